// Leader election on a Lease, through client-node against an API server over HTTP that refuses
// stale writes as the real one does: one of two candidates leads, the other takes over only once
// the leader stopped renewing for the lease duration (on its own clock), at once when the
// leader gives the Lease up, and never while the leader still renews. Clocks are the tests' own.
import { Writable } from 'node:stream';
import { KubeConfig } from '#kube';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { LeaderElector } from '../../src/leader/elector.js';
import { kubeLeaseStore } from '../../src/leader/lease-kube.js';
import { startControllerApi } from '../helpers/fake-controller-api.js';

const quiet = pino(
  new Writable({
    write(_c, _e, done) {
      done();
    },
  }),
);

async function setup(t: Test) {
  const api = await startControllerApi();
  t.teardown(() => api.close());
  const config = new KubeConfig();
  config.loadFromFile(api.kubeconfig);
  let now = Date.parse('2026-01-01T00:00:00Z');
  const states: Record<string, boolean> = {};
  const candidate = (identity: string) => {
    states[identity] = false;
    return new LeaderElector({
      store: kubeLeaseStore(config, 'podpattern', 'podpattern-controllers'),
      identity,
      logger: quiet,
      now: () => now,
      onStartedLeading: () => (states[identity] = true),
      onStoppedLeading: () => (states[identity] = false),
    });
  };
  return { api, candidate, states, advance: (ms: number) => (now += ms) };
}

/** Two candidates, pod-a then pod-b, each having tried once: a created the Lease and leads. */
async function aLeadsB(t: Test) {
  const { candidate, ...rest } = await setup(t);
  const a = candidate('pod-a');
  const b = candidate('pod-b');
  await a.tick();
  await b.tick();
  return { ...rest, a, b };
}

t.test('the first candidate creates the Lease and leads; the second does not while it renews', async (t) => {
  const { api, states, advance, a, b } = await aLeadsB(t);
  t.same(states, { 'pod-a': true, 'pod-b': false });
  const lease = api.leases.get('podpattern/podpattern-controllers');
  t.equal(lease.spec.holderIdentity, 'pod-a');
  t.equal(lease.spec.leaseDurationSeconds, 15);
  t.match(
    lease.spec.renewTime,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/,
    'times are MicroTime: six fractional digits, as the API server parses them',
  );
  for (let i = 0; i < 20; i += 1) {
    advance(2_000);
    await a.tick();
    await b.tick();
  }
  t.same(states, { 'pod-a': true, 'pod-b': false }, 'forty seconds on, a still leads: it renewed every 2 s');
  t.equal(api.leases.get('podpattern/podpattern-controllers').spec.leaseTransitions, 0);
});

t.test('a leader that stops renewing loses the Lease once the lease duration has passed since the other saw it change', async (t) => {
  const { api, states, advance, a, b } = await aLeadsB(t);
  advance(14_000);
  await b.tick();
  t.equal(states['pod-b'], false, "at 14 s the Lease is still a's");
  advance(1_000);
  await b.tick();
  t.equal(states['pod-b'], true, 'at 15 s b takes it');
  const lease = api.leases.get('podpattern/podpattern-controllers');
  t.equal(lease.spec.holderIdentity, 'pod-b');
  t.equal(lease.spec.leaseTransitions, 1);
  // a comes back: it sees b's Lease and, failing to renew, steps down.
  await a.tick();
  t.same(states, { 'pod-a': false, 'pod-b': true }, 'the old leader steps down: its renew deadline passed long ago');
});

t.test('a leader that cannot reach the API steps down after the renew deadline, not before', async (t) => {
  const { api, candidate, states, advance } = await setup(t);
  const a = candidate('pod-a');
  await a.tick();
  api.failLeaseRequests = 100;
  advance(8_000);
  await a.tick();
  t.equal(states['pod-a'], true, '8 s without a renewal: still leading');
  advance(2_000);
  await a.tick();
  t.equal(states['pod-a'], false, '10 s: stepped down');
});

t.test('stop() gives the Lease up, and the other candidate takes it at its next attempt', async (t) => {
  const { api, states, advance, a, b } = await aLeadsB(t);
  await a.stop();
  t.equal(states['pod-a'], false);
  t.equal(api.leases.get('podpattern/podpattern-controllers').spec.holderIdentity, '', 'the holder is emptied');
  advance(2_000);
  await b.tick();
  t.equal(states['pod-b'], true, 'b leads without waiting for the lease duration');
});

t.test("two candidates racing for the same record: the API server's conflict lets only one win", async (t) => {
  const { candidate, states } = await setup(t);
  const a = candidate('pod-a');
  const b = candidate('pod-b');
  await Promise.all([a.tick(), b.tick()]);
  t.equal(Object.values(states).filter(Boolean).length, 1, 'exactly one leads');
});

t.test('timings that cannot work are refused', async (t) => {
  t.throws(
    () =>
      new LeaderElector({
        store: { get: async () => undefined, create: async (r) => r, update: async (r) => r },
        identity: 'x',
        logger: quiet,
        leaseSeconds: 10,
        renewDeadlineSeconds: 10,
        onStartedLeading: () => {},
        onStoppedLeading: () => {},
      }),
    /retry .* < renew deadline .* < lease duration/,
  );
});
