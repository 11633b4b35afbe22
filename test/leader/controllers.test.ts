// The controllers as `podpattern serve` runs them: the replica that takes the Lease runs the
// rollout controller's passes (a template with restart: auto gets its status.rollout written, the
// passes are counted); with rollout off in the settings, no pass runs and nothing is written.
// Real timers, waited on by condition with generous ceilings.
import { Writable } from 'node:stream';
import { KubeConfig } from '#kube';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { kubeHealApi } from '../../src/heal/heal-kube.js';
import { LEASE_NAME, controllers } from '../../src/leader/controllers.js';
import { kubeLeaseStore } from '../../src/leader/lease-kube.js';
import { createMetrics } from '../../src/metrics/index.js';
import { kubeRolloutApi } from '../../src/rollout/rollout-kube.js';
import { startControllerApi } from '../helpers/fake-controller-api.js';

const quiet = pino(
  new Writable({
    write(_c, _e, done) {
      done();
    },
  }),
);

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(t: Test, rollout: boolean) {
  const api = await startControllerApi();
  t.teardown(() => api.close());
  const config = new KubeConfig();
  config.loadFromFile(api.kubeconfig);
  api.templates.push({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'edge-proxy', uid: 'uid-edge-proxy', generation: 1, resourceVersion: '3' },
    spec: { pattern: 'sidecar', description: 'A proxy.', containers: [{ name: 'proxy', image: 'proxy:1' }], rollout: { restart: 'auto' } },
  });
  const metrics = createMetrics({ processMetrics: false });
  const running = controllers({
    store: kubeLeaseStore(config, 'podpattern', LEASE_NAME),
    heal: kubeHealApi(config),
    rollout: kubeRolloutApi(config, 'podpattern'),
    usages: () => [],
    identity: 'podpattern-0',
    logger: quiet,
    metrics,
    events: { record: () => undefined },
    ready: () => true,
    settings: { healGraceSeconds: 60, healRestartsPerMinute: 0, healIntervalSeconds: 30, rollout, rolloutIntervalSeconds: 2 },
  });
  running.start();
  t.teardown(() => running.stop());
  return { api, metrics, running };
}

const value = async (metrics: ReturnType<typeof createMetrics>, name: string): Promise<number> =>
  (await metrics.registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);

t.test('the leader runs the rollout controller: its passes write the status of a restart: auto template', async (t) => {
  const { api, metrics, running } = await start(t, true);
  await until(() => api.templates[0].status?.rollout?.phase === 'Complete', 'the rollout status written');
  t.equal(await value(metrics, 'podpattern_leader'), 1);
  await until(async () => (await value(metrics, 'podpattern_rollout_passes_total')) >= 1, 'a pass counted');
  t.equal(await value(metrics, 'podpattern_rollout_paused'), 0, 'not paused');
  t.ok(running.rollout);
});

t.test('with rollout off the leader runs none', async (t) => {
  const { api, metrics, running } = await start(t, false);
  await until(async () => (await value(metrics, 'podpattern_leader')) === 1, 'the Lease taken');
  t.equal(running.rollout, undefined);
  t.equal(api.templates[0].status, undefined, 'no status written');
});
