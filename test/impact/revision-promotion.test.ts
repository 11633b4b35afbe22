// Which revisions the recorder labels podpattern.dev/promoted, through client-node against a
// scripted API server that stores them: every revision of a template without a canary; with a
// canary only the first (later ones wait for a promotion); the one in force when none is promoted
// (revisions kept before promotion existed) or when the canary is taken away; and the promoted
// revision outlives the ten newest, since pods outside the canary are served it.
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { KubeConfig } from '#kube';
import { MAX_REVISIONS, RevisionRecorder } from '../../src/impact/revisions.js';
import { kubeRevisionStore } from '../../src/impact/revisions-kube.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import { templateOfObject } from '../../src/catalog/live.js';
import { startFakeKube, status } from '../helpers/fake-apiserver.js';
import { proxyObject } from './fixtures.js';

const PATH = '/apis/apps/v1/namespaces/podpattern/controllerrevisions';
const CANARY = { canary: { namespaceSelector: { matchLabels: { stage: 'canary' } } } };

function template(port: number, rollout?: unknown) {
  const object = proxyObject(port);
  return rollout === undefined ? object : { ...object, spec: { ...object.spec, rollout } };
}

const hashOf = (object: unknown) => {
  const verdict = validateTemplate(templateOfObject(object), 'cluster', 'edge-proxy');
  if (!verdict.ok) throw new Error('invalid');
  return verdict.template.hash;
};

async function setup(t: Test) {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const stored = new Map<string, any>();
  const routesFor = (name: string) => {
    kube.routes.set(`PATCH ${PATH}/${name}`, (body) => {
      const object = stored.get(name);
      if (object === undefined) return status(404, `controllerrevisions "${name}" not found`, 'NotFound');
      object.metadata.labels = { ...object.metadata.labels, ...body.metadata.labels };
      return [200, object];
    });
    kube.routes.set(`DELETE ${PATH}/${name}`, () => (stored.delete(name), [200, {}]));
  };
  kube.routes.set(`GET ${PATH}`, () => [
    200,
    { kind: 'ControllerRevisionList', apiVersion: 'apps/v1', metadata: {}, items: [...stored.values()] },
  ]);
  kube.routes.set(`POST ${PATH}`, (body) => {
    if (stored.has(body.metadata.name)) return status(409, 'exists', 'AlreadyExists');
    stored.set(body.metadata.name, body);
    routesFor(body.metadata.name);
    return [201, body];
  });
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfig);
  const store = kubeRevisionStore(config, 'podpattern');
  const recorder = new RevisionRecorder(store, pino({ level: 'silent' }));
  const promoted = () =>
    [...stored.values()]
      .filter((r) => r.metadata.labels['podpattern.dev/promoted'] === 'true')
      .map((r) => r.revision)
      .sort((a, b) => a - b);
  return { kube, stored, store, recorder, promoted };
}

t.test('without a canary every revision is promoted as it is kept', async (t) => {
  const { recorder, promoted } = await setup(t);
  await recorder.observe(template(9000));
  await recorder.observe(template(9001));
  t.same(promoted(), [1, 2]);
});

t.test('with a canary only the first; taking the canary away promotes the one in force', async (t) => {
  const { recorder, promoted, kube } = await setup(t);
  await recorder.observe(template(9000, CANARY));
  await recorder.observe(template(9001, CANARY));
  await recorder.observe(template(9002, CANARY));
  t.same(promoted(), [1], 'later specs wait');
  await recorder.observe(template(9002));
  t.same(promoted(), [1, 3], 'no canary: the current revision is labelled');
  t.equal(kube.requests.filter((r) => r.method === 'PATCH').length, 1, 'one label patch');
  await recorder.observe(template(9002));
  t.equal(kube.requests.filter((r) => r.method === 'PATCH').length, 1, 'and not again for the same spec');
});

t.test('revisions kept before promotion existed: the one in force is promoted', async (t) => {
  const { recorder, stored, promoted } = await setup(t);
  for (const port of [9000, 9001]) {
    await recorder.observe(template(port));
  }
  for (const object of stored.values()) delete object.metadata.labels['podpattern.dev/promoted'];
  t.same(promoted(), []);
  await recorder.observe(template(9001, CANARY));
  t.same(promoted(), [2], `${hashOf(template(9001))} is labelled`);
});

t.test('the promoted revision is kept past the ten newest', async (t) => {
  const { recorder, stored, promoted } = await setup(t);
  for (let port = 9000; port < 9000 + MAX_REVISIONS + 3; port += 1) await recorder.observe(template(port, CANARY));
  t.same(promoted(), [1]);
  t.equal(stored.size, MAX_REVISIONS + 1, 'the ten newest and the promoted one');
  t.ok([...stored.values()].some((r) => r.revision === 1));
});

t.test('the store labels a revision, and says when there is none', async (t) => {
  const { recorder, store, promoted } = await setup(t);
  await recorder.observe(template(9000, CANARY));
  await recorder.observe(template(9001, CANARY));
  t.equal(await store.promote(`edge-proxy-${hashOf(template(9001))}`), true);
  t.same(promoted(), [1, 2]);
  t.equal(await store.promote('edge-proxy-0000000000000000'), false, 'no such revision');
  t.match(await store.list('edge-proxy'), [
    { revision: 1, promoted: true },
    { revision: 2, promoted: true },
  ]);
});
