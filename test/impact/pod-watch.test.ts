// The index of injected pods fed by client-node against a fake API server that answers only
// metadata requests (test/helpers/fake-pod-api.ts): the list pages through, selects by the
// injected label, the watch applies adds, changes and deletes, a watch that fell behind (410)
// lists afresh and drops pods deleted meanwhile, and owners resolve to Deployments and CronJobs
// through their ReplicaSets and Jobs.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { KubeConfig } from '#kube';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import { OwnerResolver } from '../../src/impact/owners.js';
import { ownerLookup, podMetadataClient } from '../../src/impact/pod-kube.js';
import { PodWatch } from '../../src/impact/pod-watch.js';
import { startFakePodApi } from '../helpers/fake-pod-api.js';
import { injectedPod, liveWith, proxyObject } from './fixtures.js';

const quiet = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function setup(t: Test) {
  const api = await startFakePodApi();
  const config = new KubeConfig();
  config.loadFromFile(api.kubeconfig);
  const resolver = new OwnerResolver({ lookup: ownerLookup(config) });
  const index = new InjectedPodIndex({ resolver, maxPods: 50 });
  const watch = new PodWatch({ client: podMetadataClient(config), index, logger: quiet, pageSize: 2, maxBackoffMs: 50 });
  t.teardown(async () => {
    watch.stop();
    await api.close();
  });
  return { api, index, watch, resolver };
}

const live = liveWith(proxyObject());
const names = (index: InjectedPodIndex) =>
  index
    .usages('edge-proxy')
    .flatMap((u) => `${u.namespace} ${u.workload.kind}/${u.workload.name} x${u.pods}`)
    .sort();

t.test('lists injected pods page by page as metadata, then follows adds and deletes', async (t) => {
  const { api, index, watch } = await setup(t);
  for (const name of ['web-7d9f-a', 'web-7d9f-b', 'web-7d9f-c']) api.put(injectedPod(live, name, { port: '9090' }));
  api.put({ name: 'plain', namespace: 'shop', annotations: { 'podpattern.dev/sidecar': 'edge-proxy' } });
  watch.start();
  await until(() => index.synced, 'the index to sync');
  t.same(index.counts(), { pods: 3, overflow: 0, tooLarge: 0 }, 'the three injected pods; the unlabelled one is never sent');
  const lists = api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') === null);
  t.equal(lists.length, 2, 'two pages of two');
  t.ok(
    lists.every((r) => r.query.get('labelSelector') === 'podpattern.dev/injected=true'),
    'selected by the injected label',
  );
  t.ok(
    lists.every((r) => r.accept.includes('as=PartialObjectMetadataList')),
    'the list asks for metadata only',
  );

  api.put(injectedPod(live, 'web-7d9f-d', { port: '9090' }));
  await until(() => index.counts().pods === 4, 'the added pod');
  api.remove('shop', 'web-7d9f-a');
  api.remove('shop', 'web-7d9f-b');
  await until(() => index.counts().pods === 2, 'the deleted pods to go');
  t.same(
    index.usages('edge-proxy').map((u) => u.pods),
    [2],
  );
});

t.test('a watch that fell behind lists again: pods deleted meanwhile go', async (t) => {
  const { api, index, watch } = await setup(t);
  for (const name of ['web-7d9f-a', 'web-7d9f-b']) api.put(injectedPod(live, name, { port: '9090' }));
  watch.start();
  await until(() => index.synced && api.watchers() === 1, 'the watch to open');
  const listsBefore = api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') === null).length;
  api.expireWatches();
  api.remove('shop', 'web-7d9f-a'); // no watcher sees this: only a new list can
  await until(
    () =>
      api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.get('watch') === null).length > listsBefore &&
      index.synced &&
      api.watchers() === 1,
    'a new list and watch',
  );
  t.same(index.counts().pods, 1, 'the pod deleted while no watch was open is gone');
});

t.test('owners resolve through ReplicaSets and Jobs to Deployments and CronJobs, read as metadata', async (t) => {
  const { api, index, watch, resolver } = await setup(t);
  api.owners.set('shop/ReplicaSet/web-7d9f', [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }]);
  api.owners.set('shop/Job/nightly-2901', [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'c', controller: true }]);
  api.put(injectedPod(live, 'web-7d9f-a', { port: '9090' }));
  const job = injectedPod(live, 'nightly-2901-x');
  api.put({ ...job, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-2901', uid: 'j', controller: true }] });
  const gone = injectedPod(live, 'orphan-1', { replicaSet: 'orphan' });
  api.put(gone);
  watch.start();
  await until(() => index.synced, 'the index to sync');
  await resolver.idle();
  t.ok(
    api.requests.some((r) => r.path.endsWith('/replicasets/web-7d9f')),
    'each owner is looked up as its pod enters the index, before any check asks',
  );
  t.same(
    names(index),
    ['shop CronJob/nightly x1', 'shop Deployment/web x1', 'shop ReplicaSet/orphan x1'],
    'pods are named by their workloads; a ReplicaSet that is gone names its own pods',
  );
  const reads = api.requests.filter((r) => r.path.includes('/replicasets/') || r.path.includes('/jobs/'));
  t.ok(reads.length >= 3 && reads.every((r) => r.accept.includes('as=PartialObjectMetadata;')), 'each owner read once as metadata');
});

t.test('bounded: past maxPods nothing more is kept and the index says it is incomplete', async (t) => {
  const { api, index, watch } = await setup(t);
  for (let i = 0; i < 53; i += 1) api.put(injectedPod(live, `web-7d9f-${i}`, { port: '9090' }));
  watch.start();
  await until(() => index.synced, 'the index to sync');
  t.same(index.counts(), { pods: 50, overflow: 3, tooLarge: 0 });
  t.equal(index.complete, false);
});
