// Templates whose fields have the wrong type or absurd depth, as a typo or an attacker writes
// them: refused with their reason wherever they come from (the template webhook, the cluster's
// list and watch, --catalog-dir), never thrown, and never taking another template down with them.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { V1Namespace } from '#kube';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { loadCatalogDir } from '../../src/catalog/index.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import type { Condition, TemplateObject } from '../../src/catalog/template-watch.js';
import { buildApp } from '../../src/server/app.js';
import { FakeInformer } from '../helpers/fake-informer.js';
import { testDeps } from '../server/fixtures.js';

const nested = (depth: number): unknown => {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i += 1) value = [value];
  return value;
};

/** One container field each, of the wrong type or depth, with what its refusal must say. */
const CASES: Array<{ label: string; container: Record<string, unknown>; reason: RegExp }> = [
  { label: 'args as a string', container: { args: 'sleep 3600' }, reason: /args: must be array/ },
  { label: 'command as a string', container: { command: 'sh' }, reason: /command: must be array/ },
  { label: 'args of numbers', container: { args: [1, 2] }, reason: /args\.0: must be string/ },
  {
    label: 'a probe with tcpSocket: null',
    container: { readinessProbe: { tcpSocket: null } },
    reason: /readinessProbe\.tcpSocket: must be object/,
  },
  { label: 'a probe that is a string', container: { livenessProbe: 'tcp' }, reason: /livenessProbe: must be object/ },
  { label: 'ports as an object', container: { ports: { containerPort: 80 } }, reason: /ports: must be array/ },
  { label: 'args nested 2,000 deep', container: { args: nested(2000) }, reason: /nested more than \d+ levels deep/ },
  { label: 'an unknown field nested 2,000 deep', container: { resources: nested(2000) }, reason: /nested more than \d+ levels deep/ },
];

function templateObject(name: string, container: Record<string, unknown> = {}): TemplateObject {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name, generation: 1 },
    spec: { pattern: 'sidecar', description: 'A template of the cluster.', containers: [{ name, image: 'example.org/c:1', ...container }] },
  };
}

t.test('the template webhook refuses each with its reason (a 422 denial, not a 500)', async (t) => {
  const app = buildApp(testDeps());
  t.teardown(() => app.close());
  for (const c of CASES) {
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u1',
        kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
        resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patterntemplates' },
        name: 'typo',
        operation: 'CREATE',
        object: templateObject('typo', c.container),
      },
    };
    const res = await app.inject({
      method: 'POST',
      url: '/validate-template',
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    t.equal(res.statusCode, 200, `${c.label}: answered`);
    t.match(res.json(), { response: { allowed: false, status: { code: 422, message: c.reason } } }, `${c.label}: denied with its reason`);
  }
});

t.test('listed and watched from the cluster: the bad one is not Ready, every other one serves, the watch stays up', async (t) => {
  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  const live = new LiveCatalog({ base: [], debounceMs: 600_000 });
  const written: Array<{ name: string; condition: Condition }> = [];
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  );
  const watch = new ClusterWatch({
    templates,
    namespaces,
    live,
    logger,
    writeCondition: async (name, condition) => void written.push({ name, condition }),
  });
  t.teardown(() => watch.stop());
  await watch.start();
  // A list with the bad ones first, as after a restart.
  const bad = CASES.map((c, i) => templateObject(`bad-${i}`, c.container));
  t.doesNotThrow(() => templates.list([...bad, templateObject('good-a'), templateObject('good-b')]), 'the list is applied whole');
  namespaces.list([]);
  t.equal(watch.ready, true, 'ready: the list was applied and the watch is open');
  t.same(
    live
      .current()
      .list()
      .map((x) => x.name),
    ['good-a', 'good-b'],
    'the templates listed after the bad ones serve',
  );
  for (const [i, c] of CASES.entries())
    t.match(live.current().failure(`bad-${i}`)?.problems.join('\n'), c.reason, `${c.label}: a failure with its reason`);
  // Then through the watch: a bad update of a good template keeps its last good version.
  t.doesNotThrow(() => templates.update(templateObject('good-a', { args: 'sleep 3600' })));
  templates.add(templateObject('good-c'));
  live.flush();
  t.ok(
    live.current().get('good-a') !== undefined && live.current().get('good-c') !== undefined,
    'good-a keeps its last good version, good-c arrives',
  );
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(
    written.some((w) => w.name === 'bad-0' && w.condition.status === 'False'),
    'a bad one is marked Ready=False',
  );
  t.ok(
    written.some((w) => w.name === 'good-a' && w.condition.status === 'False' && /args: must be array/.test(w.condition.message)),
    'and so is the bad update, with its reason',
  );
});

t.test('--catalog-dir: a bad file is refused with its reason and the others load', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-bad-dir-'));
  writeFileSync(join(dir, 'a-bad.json'), JSON.stringify(templateObject('typo', { args: 'sleep 3600' })));
  writeFileSync(join(dir, 'b-deep.json'), JSON.stringify(templateObject('deep', { args: nested(2000) })));
  writeFileSync(join(dir, 'c-good.json'), JSON.stringify(templateObject('fine')));
  const loaded = loadCatalogDir(dir);
  t.same(
    loaded.templates.map((x) => x.name),
    ['fine'],
  );
  t.equal(loaded.failures.length, 2);
  const [typo, deep] = loaded.failures;
  t.match(typo, { name: 'typo', source: `file:${join(dir, 'a-bad.json')}` });
  t.match(typo?.problems.join('\n'), /spec\.containers\.0\.args: must be array/);
  // The YAML parser (which reads JSON files too) refuses such depth itself, naming the file.
  t.match(deep, { source: `file:${join(dir, 'b-deep.json')}` });
  t.match(deep?.problems.join('\n'), /nested more than \d+ levels deep|Maximum call stack size exceeded/);
});
