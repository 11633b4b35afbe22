// Pods created while podpattern itself is rolled: a Deployment in an `enabled` and one in a
// `required` namespace scaled up step by step, a step at each turn of a `helm upgrade`'s rollout
// (a new replica ready, an old one terminating: its endpoint going and its drain beginning), so
// that the ReplicaSet controller creates pods exactly while the API server's view of the
// webhook's endpoints changes. Every pod must be created and injected, and none refused, and
// each reviewed once: podpattern's injected containers already carry the ServiceAccount token
// mount, so the API server's second pass of its own plugins changes nothing and does not call
// podpattern again. The first step is taken before the upgrade and counted by podpattern's own
// metrics (both replicas live throughout); the whole burst by the API server's count of calls.
// `npm run bench:cluster` does the same with 500 pods at once and measures it (burst-bench.ts).
import type { Test } from 'tap';
import { BURST_DEPLOYMENT, RolloutWatch, burstDeployment, countBurst, newProgress, scaleTo, waitForReplicas } from './burst.js';
import { figures, readMetrics } from './burst-report.js';
import { outcome } from './pods.js';
import type { RunResult } from './cluster.js';
import type { Context } from './suite.js';

const STEP = 10;
const TOTAL = 50;

export async function burstTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  await t.test(
    `a scale-up to ${TOTAL} pods per namespace across a helm upgrade of podpattern: every pod created and injected, none refused`,
    async (t) => {
      const template = ctx.pick('sidecar', 'https-proxy');
      const namespaces = [await kube.namespace('enabled'), await kube.namespace('required')];
      t.teardown(() => kube.kubectl(['delete', 'namespace', ...namespaces, '--wait=false']));
      for (const ns of namespaces) await kube.must(['apply', '-f', '-'], JSON.stringify(burstDeployment(ns, template)));
      const callsBefore = await readMetrics(kube);

      // The first step with podpattern's replicas as they are: every review reached one of them.
      const reviews = (labels: Record<string, string> = {}): Promise<number> => kube.metric('podpattern_reviews_total', labels);
      // The counters are the whole cluster's: a review of a pod elsewhere, or the API server
      // calling again after a connection reset, adds to them. A reinvocation is a review of a pod
      // podpattern already injected, answered "skipped: already-injected", so that is what must not grow.
      const reinvoked = { outcome: 'skipped', reason: 'already-injected' };
      const [injectedBefore, reinvokedBefore] = [await reviews({ outcome: 'injected' }), await reviews(reinvoked)];
      await scaleTo(kube, namespaces, STEP);
      const first = newProgress(
        namespaces.map((namespace) => ({ namespace, wanted: STEP })),
        Date.now(),
      );
      await waitForReplicas(kube, first, { ceilingMs: 300_000, stallMs: 120_000 }, Date.now());
      const injected = (await reviews({ outcome: 'injected' })) - injectedBefore;
      t.ok(injected >= 2 * STEP, `the first ${STEP} pods per namespace: each injected by a review (${injected} injecting reviews)`);
      t.equal((await reviews(reinvoked)) - reinvokedBefore, 0, 'and none reviewed again (no reinvocation)');

      const watch = new RolloutWatch(kube);
      await watch.begin();
      const before = watch.steps.length;
      // A changed value changes the pod template: the Deployment rolls both replicas.
      let upgraded: RunResult | undefined;
      const upgrade = kube.helmInstall('upgrade', [`podAnnotations.podpattern-burst=rollout-${Date.now()}`]).then((r) => (upgraded = r));
      let replicas = 2 * STEP;
      const scaledAt: string[] = ['the upgrade began'];
      await scaleTo(kube, namespaces, replicas);
      const started = Date.now();
      const progress = newProgress(
        namespaces.map((namespace) => ({ namespace, wanted: TOTAL })),
        started,
      );
      await waitForReplicas(
        kube,
        progress,
        {
          ceilingMs: 600_000,
          stallMs: 240_000,
          onTick: async () => {
            const turns = (await watch.poll()).filter((s) => s.what !== 'gone');
            // Another step at each turn of the rollout; the rest at once when the upgrade is over.
            if (replicas >= TOTAL || (turns.length === 0 && upgraded === undefined)) return;
            replicas = upgraded === undefined ? Math.min(TOTAL, replicas + STEP) : TOTAL;
            scaledAt.push(turns.map((s) => `${s.pod} ${s.what}`).join(' and ') || 'the upgrade ended');
            await scaleTo(kube, namespaces, replicas);
          },
        },
        started,
      );
      const result = await upgrade;
      t.equal(result.code, 0, outcome(result, 'helm upgrade'));
      await watch.poll();
      t.comment(`rollout: ${watch.describe()}; pods added at: ${scaledAt.join('; ')}`);
      const turns = watch.steps.slice(before);
      t.equal(turns.filter((s) => s.what === 'ready').length, 2, 'two new replicas became ready');
      t.equal(turns.filter((s) => s.what === 'terminating').length, 2, 'and both old ones terminated');

      const calls = figures(callsBefore, await readMetrics(kube)).webhook;
      for (const count of await Promise.all(progress.map((p) => countBurst(kube, p, template, started)))) {
        const mode = count.namespace === namespaces[0] ? 'enabled' : 'required';
        // Once per pod, not twice (a reinvocation for the ServiceAccount token mount): a few calls
        // more than pods are tolerated across the upgrade (one in 50 seen once, cause not found).
        const attempts = count.created + count.failedCreate.count;
        t.ok(
          calls[mode].count >= attempts && calls[mode].count <= attempts + Math.ceil(attempts / 20),
          `${mode}: the API server called podpattern about once per pod and refused attempt (${calls[mode].count} calls, ${attempts} attempts)`,
        );
        t.equal(
          count.created,
          TOTAL,
          `${mode}: every pod of the ${BURST_DEPLOYMENT} Deployment created${count.incomplete === undefined ? '' : ` (${count.incomplete})`}`,
        );
        t.equal(
          count.injected,
          count.created,
          `${mode}: every pod created is injected (missing: ${count.missing.examples.join(', ') || 'none'})`,
        );
        t.equal(count.failedCreate.count, 0, `${mode}: no FailedCreate (${count.failedCreate.messages.join(' | ') || 'none'})`);
      }
    },
  );
}
