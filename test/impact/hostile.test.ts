// What pod authors control reaches the index and the check: annotations. A pod's asked
// annotations over the bound are not kept (counted, and reported as not checked); a status that
// is not podpattern's keeps nothing; thousands of distinct hostile parameter sets are checked up
// to the budget of owners, or of time, and the rest counted, never all rendered.
import t from 'tap';
import { inject } from '../../src/engine/index.js';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import { MAX_ASKED_BYTES } from '../../src/impact/pod-record.js';
import { reviewImpact } from '../../src/impact/review.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import { templateOfObject } from '../../src/catalog/live.js';
import { impactDeps, injectedPod, liveWith, proxyObject } from './fixtures.js';

const live = liveWith(proxyObject());

t.test("asked annotations over the bound, and statuses that are not podpattern's, are not kept", async (t) => {
  const index = new InjectedPodIndex();
  const big = injectedPod(live, 'big', { port: '9090' });
  big.annotations!['edge-proxy.podpattern.dev/upstream-port'] = '9'.repeat(MAX_ASKED_BYTES);
  index.upsert(big);
  index.upsert({ ...injectedPod(live, 'forged'), annotations: { 'podpattern.dev/status': '{"templates": 7}' } });
  index.upsert({ ...injectedPod(live, 'huge-status'), annotations: { 'podpattern.dev/status': 'x'.repeat(100_000) } });
  index.upsert({ name: 'no-namespace', annotations: {} });
  t.same(index.counts(), { pods: 0, overflow: 0, tooLarge: 1 });
  t.equal(index.complete, false);
  index.remove(big);
  t.equal(index.complete, true, 'the oversized pod gone, nothing is missing');
});

t.test('3,000 distinct parameter sets: checked up to the budget, the rest counted; a spent clock stops at once', async (t) => {
  const index = new InjectedPodIndex();
  for (let i = 0; i < 3000; i += 1) index.upsert(injectedPod(live, `pod-${i}`, { port: String(1000 + i), replicaSet: `rs-${i}` }));
  index.synced = true;
  t.equal(index.usages('edge-proxy').length, 3000, 'every set is its own group');
  const next = validateTemplate(templateOfObject(proxyObject(65535, { image: 'registry.example/proxy:2' })), 'cluster', 'edge-proxy');
  if (!next.ok) throw new Error('invalid');
  const old = live.current().get('edge-proxy');
  let renders = 0;
  const counted = {
    ...impactDeps(live, index),
    maxChecked: 100,
    inject: (...args: Parameters<typeof inject>) => ((renders += 1), inject(...args)),
  };
  const request = {
    operation: 'UPDATE' as const,
    name: 'edge-proxy',
    uid: 'u',
    old,
    next: next.template,
    forceReason: undefined,
    dryRun: false,
    user: undefined,
    budgetMs: undefined,
  };
  const answer = reviewImpact(request, counted);
  t.equal(renders, 200, 'two renders for each of the 100 checked');
  t.ok(answer.allowed && answer.warnings.some((w) => /not checked for 2900 owners/.test(w)));

  renders = 0;
  let clock = 0;
  const spent = reviewImpact(request, { ...counted, maxChecked: 10_000, now: () => (clock += 1_000_000) });
  t.equal(renders, 0, 'past the time budget nothing more is rendered');
  t.ok(spent.allowed && spent.warnings.some((w) => /not checked for 3000 owners/.test(w)));
});
