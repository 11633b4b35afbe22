// Template revisions kept as ControllerRevisions through client-node against a scripted API
// server that stores them: one per accepted spec, named by the hash pods record, owned by the
// template, numbered in order; the same spec again (a status write, a resync) writes nothing; an
// invalid spec keeps none; past ten the oldest go; another replica's write first is no failure.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { KubeConfig } from '#kube';
import { RevisionRecorder, MAX_REVISIONS } from '../../src/impact/revisions.js';
import { kubeRevisionStore } from '../../src/impact/revisions-kube.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import { templateOfObject } from '../../src/catalog/live.js';
import { startFakeKube, status } from '../helpers/fake-apiserver.js';
import { proxyObject } from './fixtures.js';

const PATH = '/apis/apps/v1/namespaces/podpattern/controllerrevisions';

async function setup(t: Test) {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const stored = new Map<string, any>();
  kube.routes.set(`GET ${PATH}`, () => [
    200,
    { kind: 'ControllerRevisionList', apiVersion: 'apps/v1', metadata: {}, items: [...stored.values()] },
  ]);
  kube.routes.set(`POST ${PATH}`, (body) => {
    if (stored.has(body.metadata.name)) return status(409, `controllerrevisions "${body.metadata.name}" already exists`, 'AlreadyExists');
    const created = { ...body, metadata: { ...body.metadata, creationTimestamp: '2026-12-06T01:00:00Z' } };
    stored.set(body.metadata.name, created);
    return [201, created];
  });
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfig);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  const recorder = new RevisionRecorder(kubeRevisionStore(config, 'podpattern'), logger);
  return { kube, stored, recorder, lines };
}

const hashOf = (object: unknown) => {
  const verdict = validateTemplate(templateOfObject(object), 'cluster', 'edge-proxy');
  if (!verdict.ok) throw new Error('invalid');
  return verdict.template.hash;
};

t.test('each accepted spec is kept once, named by its hash and owned by the template', async (t) => {
  const { kube, stored, recorder } = await setup(t);
  const first = proxyObject();
  await recorder.observe(first);
  await recorder.observe({ ...first, status: { conditions: [{ type: 'Ready', status: 'True' }] } });
  await recorder.observe(proxyObject(8080));
  t.same([...stored.keys()], [`edge-proxy-${hashOf(first)}`, `edge-proxy-${hashOf(proxyObject(8080))}`]);
  const revision = stored.get(`edge-proxy-${hashOf(first)}`);
  t.match(revision, {
    metadata: {
      namespace: 'podpattern',
      labels: { 'podpattern.dev/template': 'edge-proxy' },
      annotations: { 'podpattern.dev/template-hash': hashOf(first) },
      ownerReferences: [
        { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', name: 'edge-proxy', uid: 'tpl-uid-1', controller: true },
      ],
    },
    revision: 1,
    data: { spec: { pattern: 'sidecar', parameters: { 'upstream-port': { maximum: 65535 } } } },
  });
  t.equal(stored.get(`edge-proxy-${hashOf(proxyObject(8080))}`).revision, 2);
  t.equal(kube.requests.filter((r) => r.method === 'POST').length, 2, 'the status write made no revision');
  await recorder.observe({ ...first, spec: { pattern: 'sidecar' } });
  t.equal(stored.size, 2, 'an invalid spec keeps none');
});

t.test('the last ten are kept; a revision another replica wrote first is no failure', async (t) => {
  const { kube, stored, recorder, lines } = await setup(t);
  const deleted: string[] = [];
  for (let port = 9000; port < 9012; port += 1) {
    for (const [name] of stored) kube.routes.set(`DELETE ${PATH}/${name}`, () => (deleted.push(name), stored.delete(name), [200, {}]));
    await recorder.observe(proxyObject(port));
  }
  t.equal(stored.size, MAX_REVISIONS);
  t.same(deleted, [`edge-proxy-${hashOf(proxyObject(9000))}`, `edge-proxy-${hashOf(proxyObject(9001))}`], 'the two oldest went');
  t.same(
    [...stored.values()].map((r) => r.revision).sort((a, b) => a - b),
    [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  );

  const other = new RevisionRecorder(
    kubeRevisionStore(
      (() => {
        const c = new KubeConfig();
        c.loadFromFile(kube.kubeconfig);
        return c;
      })(),
      'podpattern',
    ),
    pino({ level: 'silent' }),
  );
  await other.observe(proxyObject(9011));
  t.equal(stored.size, MAX_REVISIONS);
  t.same(
    lines.filter((l) => l.includes('could not keep')),
    [],
    'nothing failed',
  );
});
