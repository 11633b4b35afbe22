// What a restart cannot roll is reported in the template's rollout status and never touched: a
// CronJob's pods (found through their Job, as the API server stores it) and a StatefulSet with the
// OnDelete update strategy, whose pods a restart would not replace. Against the fake API server
// and the real index (harness.ts); what is checked is what the API server stored.
import t, { type Test } from 'tap';
import { NAME, addTemplate, hashOf, rolloutOf, setup, templateSpec, type Harness, type Json } from './harness.js';

const ROLLOUT = { restart: 'auto' };

/** A running pod of `owner` that records the template's first revision. */
function outdatedPod(h: Harness, name: string, owner: Json): void {
  const hash = hashOf(templateSpec('proxy:1', ROLLOUT));
  const status = JSON.stringify({ templates: [{ name: NAME, hash }], containers: ['proxy'], initContainers: [] });
  const pod = {
    metadata: {
      name,
      namespace: 'a',
      uid: `uid-${name}`,
      labels: { 'podpattern.dev/injected': 'true' },
      annotations: { 'podpattern.dev/sidecar': NAME, 'podpattern.dev/status': status },
      ownerReferences: [{ ...owner, controller: true }],
    },
    status: { phase: 'Running' },
  };
  h.api.pods.push(pod);
  h.index.upsert(pod.metadata);
}

/** One pass: nothing restarted or patched but the template's status, which reports `entry`. */
async function reportedOnly(t: Test, h: Harness, entry: Json): Promise<void> {
  const result = await h.pass();
  t.same(result.restarted, [], 'nothing restarted');
  t.same(
    h.api.patches.filter((p) => !p.path.includes('patterntemplates')),
    [],
    'nothing but the template status patched',
  );
  t.match(rolloutOf(h), { restarted: [{ ...entry, result: 'reported' }] });
}

t.test("a CronJob's pods are reported under the CronJob, and nothing is patched", async (t) => {
  const h = await setup(t, { a: {} });
  addTemplate(h, ['proxy:1', 'proxy:2'], ROLLOUT, 2);
  h.api.objects.set('Job/a/nightly-29000000', {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'nightly-29000000',
      namespace: 'a',
      uid: 'uid-job',
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'uid-cron', controller: true }],
    },
  });
  outdatedPod(h, 'nightly-29000000-x', { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-29000000', uid: 'uid-job' });
  await reportedOnly(t, h, { kind: 'CronJob', name: 'nightly', message: /a CronJob: not restarted by podpattern/ });
});

t.test('a StatefulSet with the OnDelete strategy is reported, never patched, since a restart would replace no pod', async (t) => {
  const h = await setup(t, { a: {} });
  addTemplate(h, ['proxy:1', 'proxy:2'], ROLLOUT, 2);
  h.api.objects.set('StatefulSet/a/db', {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'a', uid: 'uid-db', generation: 1, resourceVersion: '5', annotations: {} },
    spec: {
      replicas: 1,
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: { app: 'db' } },
      template: { metadata: { labels: { app: 'db' }, annotations: {} } },
    },
    status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, currentRevision: 'db-1', updateRevision: 'db-1' },
  });
  outdatedPod(h, 'db-0', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'uid-db' });
  await reportedOnly(t, h, { kind: 'StatefulSet', name: 'db', message: /^not restarted: its update strategy is OnDelete/ });
});
