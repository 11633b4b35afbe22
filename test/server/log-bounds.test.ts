// The bounds on what a review writes, in bytes: a log line of at most 8 KiB whatever field of the
// review is huge (the review's own strings are not checked for length before the line is
// written), and a denial of at most 64 KiB however long the templates' parameter descriptions.
import t from 'tap';
import { inject } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';
import { buildApp } from '../../src/server/app.js';
import { podReview, testDeps } from './fixtures.js';

const MiB = 1024 * 1024;
const MAX_LOG_LINE = 8 * 1024;
const MAX_ANSWER = 64 * 1024;
const huge = 'K'.repeat(3 * MiB);

function longestLine(lines: Record<string, unknown>[]): number {
  return Math.max(...lines.map((line) => Buffer.byteLength(JSON.stringify(line))));
}

t.test('a 3 MiB kind, operation or template name: every log line within 8 KiB, cut with a marker', async (t) => {
  const deps = testDeps();
  const app = buildApp(deps);
  t.teardown(() => app.close());
  const withKind = podReview();
  (withKind.request as Record<string, unknown>).kind = { group: '', version: 'v1', kind: huge };
  const withOperation = podReview();
  (withOperation.request as Record<string, unknown>).operation = huge;
  const template = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b7a3a1f2-0000-4000-8000-000000000001',
      kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: huge.slice(MiB) },
      operation: 'CREATE',
      name: huge.slice(MiB),
      object: null,
    },
  };
  const part = huge.slice(0, MiB / 2); // five of them stay under the body limit
  const workload = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b7a3a1f2-0000-4000-8000-000000000002',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      operation: part,
      namespace: part,
      name: part,
      object: {
        kind: 'Deployment',
        metadata: { name: part },
        spec: { template: { metadata: { annotations: { 'podpattern.dev/sidecar': part } }, spec: { containers: [] } } },
      },
    },
  };
  for (const [url, body] of [
    ['/mutate', withKind],
    ['/mutate', withOperation],
    ['/validate-template', template],
    ['/validate-workload', workload],
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    t.ok(res.statusCode < 500, `${url}: answered (${res.statusCode})`);
  }
  const lines = deps.lines();
  t.equal(lines.length, 4, 'one line per review');
  const longest = longestLine(lines);
  t.ok(longest <= MAX_LOG_LINE, `longest log line ${longest} bytes (was 3 MiB)`);
  t.match(lines[0]?.kind, /^K+…$/, 'the kind is cut, with a marker');
  t.match(lines[1]?.operation, /^K+…$/, 'the operation is cut, with a marker');
  t.match(lines[2]?.kind, /^K+…$/, "the template review's kind too");
  t.match(lines[2]?.name, /^K+…$/, 'the template name is cut, with a marker');
  t.match(lines[3], { name: /^K+…$/, namespace: /^K+…$/, operation: /^K+…$/ }, "the workload review's fields too");
});

t.test('30 required parameters with 50 KB descriptions: a denial within 64 KiB that still names them', async (t) => {
  const description = 'd'.repeat(50_000);
  const parameters = Array.from(
    { length: 30 },
    (_, i) => `    p${i}: { type: string, required: true, enum: [a, b], description: '${description}' }`,
  ).join('\n');
  const parsed = parseTemplates(
    `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: wordy }
spec:
  pattern: sidecar
  description: many long parameters
  parameters:
${parameters}
  containers: [{ name: wordy, image: 'example.org/x:1' }]
`,
    'cluster',
  );
  t.equal(parsed.failures.length, 0, 'the template loads');
  const catalog = buildCatalog([loadBuiltinTemplates(), parsed]);
  const deps = testDeps({ inject, catalog: () => catalog });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  const res = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(podReview({ annotations: { 'podpattern.dev/sidecar': 'wordy' } })),
  });
  t.equal(res.statusCode, 200);
  t.ok(Buffer.byteLength(res.body) <= MAX_ANSWER, `the answer is ${Buffer.byteLength(res.body)} bytes (was 2 MB)`);
  const status = JSON.parse(res.body).response.status;
  t.equal(status.code, 403, 'a denial');
  t.ok(Buffer.byteLength(status.message) <= MAX_ANSWER, `the message is ${Buffer.byteLength(status.message)} bytes`);
  t.match(status.message, /30 problems/, 'every problem is counted');
  t.match(status.message, /p0\b/, 'the first parameter is named');
  t.match(status.message, /…/, 'a long description is cut with a marker');
  t.ok(longestLine(deps.lines()) <= MAX_LOG_LINE, 'and the log line stays within 8 KiB');
});
