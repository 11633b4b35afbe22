// POST /validate-workload: a workload whose pods podpattern would refuse, or whose podpattern
// annotations sit on its own metadata, is admitted with warnings saying so (what `kubectl
// apply` prints); a good one with none; the answer is never a refusal, whatever comes in, and
// its warnings fit what the API server passes on (256 bytes each, 4 KiB in all).
import t from 'tap';
import { buildApp } from '../../src/server/app.js';
import { OLDEST_SUPPORTED } from '../../src/model/server-version.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import type { AppDeps } from '../../src/server/app.js';
import { testDeps } from './fixtures.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);
const UID = 'c3d1e2f0-0000-4000-8000-000000000001';

function workloadReview(
  object: Record<string, unknown>,
  options: { group?: string; kind?: string; operation?: string; subResource?: string } = {},
): Record<string, unknown> {
  const kind = options.kind ?? String(object['kind']);
  const group = options.group ?? (kind === 'Job' || kind === 'CronJob' ? 'batch' : 'apps');
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: UID,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace: 'shop',
      name: 'web',
      operation: options.operation ?? 'CREATE',
      object,
      ...(options.subResource === undefined ? {} : { subResource: options.subResource }),
    },
  };
}

function deployment(templateAnnotations: Record<string, string>, ownAnnotations?: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', ...(ownAnnotations === undefined ? {} : { annotations: ownAnnotations }) },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' }, annotations: templateAnnotations },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      },
    },
  };
}

function cronJob(annotations: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'render', namespace: 'shop' },
    spec: {
      schedule: '0 * * * *',
      jobTemplate: {
        spec: {
          template: {
            metadata: { annotations },
            spec: { restartPolicy: 'OnFailure', containers: [{ name: 'render', image: 'example.org/render:1.0' }] },
          },
        },
      },
    },
  };
}

async function review(
  body: unknown,
  overrides: Partial<AppDeps> = {},
): Promise<{ status: number; response: { uid: string; allowed: boolean; warnings?: string[]; status?: unknown } }> {
  const deps = testDeps({ catalog: () => catalog, serverVersion: () => OLDEST_SUPPORTED, ...overrides });
  const app = buildApp(deps);
  const answer = await app.inject({
    method: 'POST',
    url: '/validate-workload',
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  await app.close();
  return { status: answer.statusCode, response: (JSON.parse(answer.body) as { response: never }).response };
}

t.test('a Deployment asking for a misspelt template: admitted, the first warning names the problem and the fix', async (t) => {
  const { status, response } = await review(
    workloadReview(deployment({ 'podpattern.dev/sidecar': 'https-proxx', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' })),
  );
  t.equal(status, 200);
  t.match(response, { uid: UID, allowed: true });
  t.equal(response.status, undefined, 'no refusal');
  t.match(
    response.warnings?.[0],
    /^podpattern will refuse the pods of Deployment\/web: podpattern\.dev\/sidecar: no template named 'https-proxx' \(did you mean https-proxy\?\)/,
  );
});

t.test("podpattern annotations on the workload's own metadata: a warning saying where they belong", async (t) => {
  const { response } = await review(workloadReview(deployment({}, { 'podpattern.dev/sidecar': 'https-proxy' })));
  t.equal(response.allowed, true);
  t.same(response.warnings, [
    "Deployment/web: annotation podpattern.dev/sidecar is on the workload's own metadata, where podpattern does not look; move it to spec.template.metadata.annotations",
  ]);
});

t.test('a Deployment whose pods would be injected gets no warning', async (t) => {
  const { response } = await review(
    workloadReview(deployment({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' }), {
      operation: 'UPDATE',
    }),
  );
  t.same(response, { uid: UID, allowed: true });
});

t.test("a CronJob's pods run to completion: a sidecar is fine with native sidecars, warned about without", async (t) => {
  const body = workloadReview(
    cronJob({ 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': 'https://github.com/example/site.git' }),
  );
  const native = await review(body, { serverVersion: () => ({ major: 1, minor: 30 }) });
  t.same(native.response, { uid: UID, allowed: true }, 'Kubernetes 1.30: the Job finishes, nothing to say');
  const classic = await review(body, { nativeSidecars: 'never' });
  t.equal(classic.response.allowed, true);
  t.match(classic.response.warnings?.[0], /^podpattern will refuse the pods of CronJob\/render: the pod runs to completion/);
});

t.test('whatever arrives, the answer admits, with bounded warnings', async (t) => {
  const many = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`podpattern.dev/sidcar${i}${'x'.repeat(300)}`, 'y']));
  const cases: Array<[string, unknown]> = [
    ['sixty bad keys with long names', workloadReview(deployment(many, many))],
    [
      'a pod template that is not one',
      workloadReview({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { template: 'nope' } }),
    ],
    ['no object', workloadReview(null as never, { kind: 'Deployment' })],
    [
      'a Pod sent here',
      workloadReview(
        { apiVersion: 'v1', kind: 'Pod', metadata: { annotations: { 'podpattern.dev/sidecar': 'nope' } }, spec: { containers: [] } },
        { group: '', kind: 'Pod' },
      ),
    ],
    ['a status write', workloadReview(deployment({ 'podpattern.dev/sidecar': 'nope' }), { subResource: 'status', operation: 'UPDATE' })],
    ['a delete', workloadReview(deployment({ 'podpattern.dev/sidecar': 'nope' }), { operation: 'DELETE' })],
  ];
  for (const [label, body] of cases) {
    const { status, response } = await review(body);
    t.equal(status, 200, label);
    t.equal(response.allowed, true, `${label}: admitted`);
    const warnings = response.warnings ?? [];
    t.ok(
      warnings.every((w) => Buffer.byteLength(w) <= 256),
      `${label}: each warning within 256 bytes`,
    );
    t.ok(warnings.reduce((sum, w) => sum + Buffer.byteLength(w), 0) <= 4096, `${label}: all of them within 4 KiB (${warnings.length})`);
  }
  t.match((await review(cases[1]![1])).response.warnings, [
    /^podpattern will refuse the pods of Deployment\/web: a Deployment keeps its pod template at spec\.template/,
  ]);
  t.same((await review(cases[3]![1])).response.warnings, undefined, "a Pod is /mutate's, not read here");
});

t.test('each review is one log line, without the object', async (t) => {
  const deps = testDeps({ catalog: () => catalog });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  await app.inject({
    method: 'POST',
    url: '/validate-workload',
    payload: JSON.stringify(workloadReview(deployment({ 'podpattern.dev/sidecar': 'https-proxx' }))),
    headers: { 'content-type': 'application/json' },
  });
  const lines = deps.lines().filter((line) => line['msg'] === 'workload review');
  t.equal(lines.length, 1);
  t.match(lines[0], { kind: 'Deployment', name: 'web', namespace: 'shop', operation: 'CREATE', warnings: 1 });
  t.notMatch(JSON.stringify(lines[0]), /nginx/);
});

t.test('hostile workloads: 2,000 generated objects, each admitted with bounded warnings, none throwing', async (t) => {
  const fc = (await import('fast-check')).default;
  const { decideWorkload } = await import('../../src/admission/workload-review.js');
  const key = fc.oneof(
    fc.constantFrom(
      'podpattern.dev/sidecar',
      'podpattern.dev/adapter',
      'podpattern.dev/inject',
      'https-proxy.podpattern.dev/tls-secret',
      'git-sync.podpattern.dev/repo',
      'podpattern.dev/status',
      '__proto__',
      'constructor',
    ),
    fc.string({ maxLength: 40 }),
  );
  const value = fc.oneof(
    fc.constantFrom('https-proxy', 'git-sync', 'https-proxx', 'https-proxy,git-sync', ''),
    fc.string({ maxLength: 300 }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const annotations = fc.dictionary(key, value, { maxKeys: 12 });
  const template = fc.oneof(
    fc.record({
      metadata: fc.record({ annotations }),
      spec: fc.record({
        containers: fc.array(fc.record({ name: fc.string({ maxLength: 20 }), image: fc.string({ maxLength: 20 }) }), { maxLength: 3 }),
        restartPolicy: fc.constantFrom('Always', 'Never', 'OnFailure'),
      }),
    }),
    fc.jsonValue({ maxDepth: 3 }),
  );
  const kind = fc.constantFrom(
    ['apps', 'Deployment'],
    ['apps', 'StatefulSet'],
    ['apps', 'DaemonSet'],
    ['apps', 'ReplicaSet'],
    ['batch', 'Job'],
    ['batch', 'CronJob'],
    ['', 'Pod'],
  );
  const object = fc.tuple(kind, template, annotations).map(([[group, k], tpl, own]) => ({
    group,
    kind: k,
    object: {
      apiVersion: `${group === '' ? '' : `${group}/`}v1`,
      kind: k,
      metadata: { name: 'w', annotations: own },
      spec: k === 'CronJob' ? { jobTemplate: { spec: { template: tpl } } } : { template: tpl },
    },
  }));
  let warned = 0;
  fc.assert(
    fc.property(object, fc.constantFrom('CREATE', 'UPDATE'), ({ group, kind: k, object: workload }, operation) => {
      const request = {
        uid: 'u',
        kind: { group, version: 'v1', kind: k },
        operation,
        namespace: 'shop',
        object: workload,
      } as unknown as Parameters<typeof decideWorkload>[0];
      const response = decideWorkload(request, {
        catalog: () => catalog,
        options: () => ({ nativeSidecars: 'auto', namespace: 'shop', serverVersion: { major: 1, minor: 30 } }),
      });
      if (response.allowed !== true || response.status !== undefined) throw new Error(`not admitted: ${JSON.stringify(response)}`);
      const warnings = response.warnings ?? [];
      if (warnings.some((w) => Buffer.byteLength(w) > 256) || warnings.reduce((sum, w) => sum + Buffer.byteLength(w), 0) > 4096)
        throw new Error('warnings over their bounds');
      const control = (w: string) =>
        [...w].some((c) => {
          const code = c.charCodeAt(0);
          return code < 0x20 || code === 0x7f;
        });
      if (warnings.some(control)) throw new Error(`a raw control character in ${JSON.stringify(warnings)}`);
      if (warnings.length > 0) warned += 1;
    }),
    { seed: 20_261_206, numRuns: 2000 },
  );
  t.ok(warned > 100, `many of them warned about (${warned}), so the property was exercised`);
});
