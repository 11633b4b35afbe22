// LimitRanges followed by an informer (src/catalog/limit-ranges.ts): by namespace, unreadable
// until listed and while the informer is down, and through a review to the engine's denial.
import t from 'tap';
import { pino } from 'pino';
import type { V1LimitRange, V1Namespace } from '#kube';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import type { TemplateObject } from '../../src/catalog/template-watch.js';
import { decide } from '../../src/admission/review.js';
import { inject } from '../../src/engine/index.js';
import { testCatalog } from '../helpers/catalog.js';
import { FakeInformer } from '../helpers/fake-informer.js';

function range(namespace: string, name: string, maxCpu: string): V1LimitRange {
  return { metadata: { namespace, name }, spec: { limits: [{ type: 'Container', max: { cpu: maxCpu } }] } };
}

t.test(
  "a namespace's LimitRanges: unreadable until listed, kept by namespace, gone when deleted, unreadable while the informer is down",
  async (t) => {
    const limitRanges = new FakeInformer<V1LimitRange>();
    const watch = new ClusterWatch({
      templates: new FakeInformer<TemplateObject>(),
      namespaces: new FakeInformer<V1Namespace>(),
      limitRanges,
      live: new LiveCatalog({ base: [], debounceMs: 600_000 }),
      logger: pino({ level: 'silent' }),
      writeCondition: async () => undefined,
      maxBackoffMs: 600_000,
    });
    t.teardown(() => watch.stop());
    await watch.start();
    t.equal(watch.limitRanges('shop'), 'unreadable', 'not listed yet');
    limitRanges.list([range('shop', 'small', '200m')]);
    t.same(watch.limitRanges('shop'), [range('shop', 'small', '200m')]);
    t.same(watch.limitRanges('other'), [], 'a namespace without one');
    limitRanges.add(range('other', 'wide', '4'));
    t.same(watch.limitRanges('other'), [range('other', 'wide', '4')], 'an addition seen at once');
    limitRanges.delete(range('shop', 'small', '200m'));
    t.same(watch.limitRanges('shop'), [], 'a deletion too');
    limitRanges.error(new Error('limitranges is forbidden'));
    t.equal(watch.limitRanges('other'), 'unreadable', 'while the informer is down');
    t.equal(watch.ready, false, 'other informers not listed: not ready (LimitRanges never hold readiness up)');
  },
);

t.test('a review in a namespace with a LimitRange is denied before the API server would refuse the pod', async (t) => {
  const catalog = testCatalog();
  const request = {
    uid: 'u1',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    namespace: 'shop',
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', annotations: { 'podpattern.dev/sidecar': 'demo-sized' } },
      spec: { containers: [{ name: 'app', image: 'x' }] },
    },
  };
  const base = { inject, catalog: () => catalog, nativeSidecars: 'always' as const, failureMode: 'closed' as const };
  const denied = decide(request, { ...base, limitRanges: (ns) => (ns === 'shop' ? [range('shop', 'small', '200m')] : []) });
  t.match(denied, {
    outcome: 'denied',
    reason: 'limit-range',
    response: { allowed: false, status: { message: /LimitRange shop\/small/ } },
  });
  const warned = decide(request, { ...base, limitRanges: () => 'unreadable' });
  t.match(warned, { outcome: 'injected', response: { allowed: true, warnings: [/could not read this namespace's LimitRanges/] } });
});
