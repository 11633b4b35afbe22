// Healing through client-node against an API server over HTTP that applies merge patches as the
// real one does: what is restarted (the stored Deployment's pod template carries restartedAt and
// the Deployment the record), what is only reported (an Event on the bare pod, the Job), that
// a restarted workload whose new pods still miss injection is reported and never restarted
// again, the grace period, readiness, the rate, and the API server's refusal. Clocks are the
// tests' own; nothing waits on time.
import { Writable } from 'node:stream';
import { KubeConfig } from '#kube';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { EventRecorder } from '../../src/events/recorder.js';
import { kubeEventWriter } from '../../src/events/kube-writer.js';
import { kubeHealApi } from '../../src/heal/heal-kube.js';
import { Healer, type HealerOptions } from '../../src/heal/healer.js';
import { nextPodDenial } from '../../src/leader/controllers.js';
import { inject } from '../../src/engine/index.js';
import { testCatalog } from '../helpers/catalog.js';
import { decide, readHealRecord } from '../../src/heal/missed.js';
import { pod, startControllerApi, workload } from '../helpers/fake-controller-api.js';

const ASK = { 'podpattern.dev/sidecar': 'https-proxy' };
const GRACE = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

async function setup(t: Test, options: { rate?: number; ready?: () => boolean; nextPodDenial?: HealerOptions['nextPodDenial'] } = {}) {
  const api = await startControllerApi();
  t.teardown(() => api.close());
  const config = new KubeConfig();
  config.loadFromFile(api.kubeconfig);
  api.namespaces.push(
    { metadata: { name: 'shop', labels: { 'podpattern.dev/injection': 'enabled' } } },
    { metadata: { name: 'plain', labels: {} } },
    { metadata: { name: 'strict', labels: { 'podpattern.dev/injection': 'required' } } },
  );
  let now = T0;
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const events = new EventRecorder({ writer: kubeEventWriter(config, 'podpattern-0'), logger, now: () => now });
  const counted = { restarted: [] as string[], reported: [] as string[], missed: -1 };
  const healer = new Healer({
    api: kubeHealApi(config),
    events,
    logger,
    graceMs: GRACE,
    restartsPerMinute: options.rate ?? 5,
    ready: options.ready ?? (() => true),
    now: () => now,
    ...(options.nextPodDenial === undefined ? {} : { nextPodDenial: options.nextPodDenial }),
    metrics: {
      restarted: (kind) => counted.restarted.push(kind),
      reported: (kind, reason) => counted.reported.push(`${kind} ${reason}`),
      missed: (n) => (counted.missed = n),
    },
  });
  /** A pass once ready long enough: the first pass starts the grace, the second runs. */
  const pass = async () => {
    const result = await healer.pass();
    await events.idle();
    return result;
  };
  return { api, healer, pass, counted, lines, advance: (ms: number) => (now += ms), now: () => now };
}

/** A Deployment `web` with a ReplicaSet and `count` pods of it, created at `created`. */
function deploymentWithPods(
  api: Awaited<ReturnType<typeof startControllerApi>>,
  name: string,
  created: number,
  count: number,
  annotations: Record<string, string> = ASK,
) {
  api.objects.set(`Deployment/shop/${name}`, workload('Deployment', 'shop', name));
  api.objects.set(`ReplicaSet/shop/${name}-1`, {
    metadata: {
      name: `${name}-1`,
      namespace: 'shop',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: `uid-${name}`, controller: true }],
    },
  });
  for (let i = 0; i < count; i += 1)
    api.pods.push(pod('shop', `${name}-1-${i}`, { created, annotations, owner: { kind: 'ReplicaSet', name: `${name}-1` } }));
}

t.test('a Deployment whose pods missed injection is restarted once, the way kubectl rollout restart does', async (t) => {
  const { api, pass, counted, advance, now } = await setup(t);
  deploymentWithPods(api, 'web', T0, 2);
  t.equal((await pass()).state, 'settling', 'the first ready pass only starts the grace period');
  advance(GRACE);
  const result = await pass();
  t.same(result.restarted, ['shop/Deployment/web']);
  t.equal(counted.missed, 2, 'two pods missed injection');
  const stored = api.objects.get('Deployment/shop/web');
  t.equal(
    stored.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'],
    new Date(now()).toISOString(),
    'the pod template carries restartedAt',
  );
  t.same(
    readHealRecord(stored.metadata.annotations),
    { at: now(), generation: 2 },
    'and the Deployment the record of the generation the restart made',
  );
  t.equal(stored.metadata.generation, 2, 'the API server bumped the generation: the controller rolls new pods');
  t.equal(api.patches[0]!.contentType, 'application/merge-patch+json');
  t.ok(api.patches[0]!.body.metadata.resourceVersion, 'the patch is conditional on the version read');
  const event = api.events.find((e) => e.reason === 'RestartedForInjection');
  t.match(event, { type: 'Normal', involvedObject: { kind: 'Deployment', name: 'web', namespace: 'shop', uid: 'uid-web' } });
  t.match(event.message, /2 pods \(web-1-0, web-1-1\) asked for podpattern.dev\/sidecar=https-proxy/);
  t.same(counted.restarted, ['Deployment']);

  // The old pods are still there while the rollout replaces them: healing waits.
  advance(30_000);
  t.same((await pass()).restarted, [], 'not restarted again while its old pods are replaced');
  t.equal(api.patches.length, 1);

  // The new ReplicaSet's pods missed injection too (the webhook is down again): reported, not restarted.
  api.objects.set('ReplicaSet/shop/web-2', {
    metadata: {
      name: 'web-2',
      namespace: 'shop',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }],
    },
  });
  api.pods.push(pod('shop', 'web-2-0', { created: now(), annotations: ASK, owner: { kind: 'ReplicaSet', name: 'web-2' } }));
  advance(GRACE);
  const again = await pass();
  t.same(again.restarted, [], 'never a loop');
  t.same(again.reported, ['shop/Deployment/web']);
  t.equal(api.patches.length, 1, 'no second patch');
  const still = api.events.find((e) => e.reason === 'StillNotInjected');
  t.match(still, { type: 'Warning', involvedObject: { kind: 'Deployment', name: 'web' } });
  t.match(still.message, /missed injection again .*not restarted again/);
  t.same(counted.reported, ['Deployment still-missed']);
  advance(GRACE);
  t.same((await pass()).reported, [], 'reported once');

  // Someone changes the Deployment (a new generation): a later outage may be healed again.
  const changed = api.objects.get('Deployment/shop/web');
  changed.metadata.generation += 1;
  t.same((await pass()).restarted, ['shop/Deployment/web'], "a changed Deployment is the user's new version: healed again");
});

t.test(
  'bare pods and Jobs get an Event and are never restarted; pods that asked nothing, opted out, finished or are injected are left alone',
  async (t) => {
    const { api, pass, counted, advance } = await setup(t);
    api.pods.push(
      pod('shop', 'bare', { created: T0, annotations: ASK }),
      pod('shop', 'batch-x', { created: T0, annotations: ASK, owner: { kind: 'Job', name: 'batch' } }),
      pod('shop', 'plain', { created: T0 }),
      pod('shop', 'opted-out', { created: T0, annotations: { ...ASK, 'podpattern.dev/inject': 'false' } }),
      pod('shop', 'done', { created: T0, annotations: ASK, phase: 'Succeeded' }),
      pod('shop', 'injected', { created: T0, annotations: { ...ASK, 'podpattern.dev/status': '{}' } }),
      pod('plain', 'elsewhere', { created: T0, annotations: ASK }),
      pod('strict', 'required-ns', { created: T0, annotations: ASK }),
    );
    api.objects.set('ReplicaSet/shop/unused', { metadata: { name: 'unused', namespace: 'shop' } });
    await pass();
    advance(GRACE);
    const result = await pass();
    t.equal(counted.missed, 2, "only the bare pod and the Job's pod missed injection in an enabled namespace");
    t.same(result.restarted, []);
    t.same(result.reported.sort(), ['shop/Job/batch', 'shop/Pod/bare']);
    t.same(api.patches, [], 'nothing patched');
    const bare = api.events.find((e) => e.involvedObject.name === 'bare');
    t.match(bare, { type: 'Warning', reason: 'NotInjected', involvedObject: { kind: 'Pod', apiVersion: 'v1', uid: 'uid-bare' } });
    t.match(
      bare.message,
      /pod bare asked for podpattern.dev\/sidecar=https-proxy but was admitted without injection.*delete and create it again/,
    );
    t.match(
      api.events.find((e) => e.involvedObject.name === 'batch'),
      { reason: 'NotInjected', involvedObject: { kind: 'Job', apiVersion: 'batch/v1' } },
    );
    t.same(counted.reported.sort(), ['Job not-restartable', 'Pod not-restartable']);
    advance(GRACE);
    await pass();
    t.equal(api.events.length, 2, 'each reported once');
  },
);

t.test(
  'pods younger than the grace period wait; nothing happens while this replica is not ready, nor until it has been ready for the grace period',
  async (t) => {
    let ready = false;
    const { api, pass, advance } = await setup(t, { ready: () => ready });
    deploymentWithPods(api, 'web', T0, 1);
    advance(GRACE * 2);
    t.equal((await pass()).state, 'not-ready');
    ready = true;
    t.equal((await pass()).state, 'settling');
    advance(GRACE - 1);
    t.equal((await pass()).state, 'settling', 'one millisecond short of the grace');
    ready = false;
    await pass();
    ready = true;
    advance(1);
    t.equal((await pass()).state, 'settling', 'readiness lost: the grace starts over');
    advance(GRACE);
    api.pods.push(
      pod('shop', 'web-1-young', { created: T0 + GRACE * 3 + 1, annotations: ASK, owner: { kind: 'ReplicaSet', name: 'web-1' } }),
    );
    const result = await pass();
    t.same(result.restarted, ['shop/Deployment/web'], "ready for the grace: the old pod's Deployment is restarted");
    t.match(api.events[0].message, /pod web-1-0 asked/, 'naming only the pod older than the grace');
  },
);

t.test('at most restartsPerMinute restarts in any minute; the rest wait for the next pass', async (t) => {
  const { api, pass, advance } = await setup(t, { rate: 1 });
  deploymentWithPods(api, 'a', T0, 1);
  deploymentWithPods(api, 'b', T0, 1);
  await pass();
  advance(GRACE);
  const first = await pass();
  t.equal(first.restarted.length, 1);
  t.equal(first.deferred.length, 1);
  advance(59_999);
  t.same((await pass()).restarted, [], 'within the minute: none');
  advance(1);
  t.same((await pass()).restarted, first.deferred, 'a minute on: the other');
});

t.test('a restart the API server refuses is reported with its reason, and tried again at the next pass', async (t) => {
  const { api, pass, advance, counted } = await setup(t);
  deploymentWithPods(api, 'web', T0, 1);
  api.refusePatches = [
    403,
    'deployments.apps "web" is forbidden: User "system:serviceaccount:podpattern:podpattern" cannot patch resource "deployments"',
  ];
  await pass();
  advance(GRACE);
  const result = await pass();
  t.same(result.restarted, []);
  t.same(counted.reported, ['Deployment restart-failed']);
  t.match(api.events[0], { type: 'Warning', reason: 'RestartFailed' });
  t.match(api.events[0].message, /cannot patch resource "deployments"/, "the API server's reason");
  delete api.refusePatches;
  advance(GRACE);
  t.same((await pass()).restarted, ['shop/Deployment/web'], 'once allowed, restarted');
});

t.test(
  'a Deployment whose next pods the webhook would deny is not restarted: reported with the denial (the real engine and catalog decide)',
  async (t) => {
    const engine = nextPodDenial({
      inject,
      catalog: testCatalog,
      options: (namespace) => ({ nativeSidecars: 'auto', namespace, namespaceAnnotations: {} }),
    });
    const { api, pass, advance, counted } = await setup(t, { nextPodDenial: engine });
    deploymentWithPods(api, 'typo', T0, 1, { 'podpattern.dev/sidecar': 'https-proxxy' });
    deploymentWithPods(api, 'fine', T0, 1, { 'podpattern.dev/adapter': 'log-normalizer' });
    t.equal(
      engine('shop', { kind: 'Deployment', name: 'fine' }, { 'podpattern.dev/adapter': 'log-normalizer' }),
      undefined,
      'a pod asking for a built-in that needs nothing more is admitted',
    );
    await pass();
    advance(GRACE);
    const result = await pass();
    t.same(result.restarted, ['shop/Deployment/fine']);
    t.same(result.reported, ['shop/Deployment/typo']);
    t.equal(api.patches.length, 1, 'only the one whose next pods would be injected is patched');
    const blocked = api.events.find((e) => e.reason === 'HealBlocked');
    t.match(blocked, { type: 'Warning', involvedObject: { kind: 'Deployment', name: 'typo' } });
    t.match(blocked.message, /would deny its next pods: .*https-proxxy/);
    t.same(counted.reported, ['Deployment would-be-denied']);
  },
);

t.test('decide() and the record: a record podpattern did not write is no record', async (t) => {
  t.same(decide(undefined, 3, [T0]), { action: 'restart' });
  t.same(decide({ at: T0, generation: 3 }, 3, [T0 - 1]), { action: 'wait' });
  t.same(decide({ at: T0, generation: 3 }, 3, [T0 - 1, T0]), { action: 'report', since: T0 });
  t.same(decide({ at: T0, generation: 3 }, 4, [T0]), { action: 'restart' });
  for (const text of [
    '',
    'x',
    '{}',
    '{"at":"yesterday","generation":1}',
    '{"at":"2026-01-01T00:00:00Z","generation":-1}',
    '{"at":"2026-01-01T00:00:00Z","generation":1.5}',
    `{"at":"2026-01-01T00:00:00Z","generation":1,"pad":"${'x'.repeat(300)}"}`,
  ]) {
    t.equal(readHealRecord({ 'podpattern.dev/healed': text }), undefined, `refused: ${text.slice(0, 40)}`);
  }
});
