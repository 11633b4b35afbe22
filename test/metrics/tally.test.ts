// Counters counted through slots: what /metrics shows is every count, whenever it is read.
import t from 'tap';
import { createMetrics } from '../../src/metrics/index.js';

t.test('slot counts reach the exposition when it is read, and keep adding up across reads', async (t) => {
  const metrics = createMetrics({ processMetrics: false });
  const injected = metrics.reviews.slot({ outcome: 'injected', reason: 'injected', dry_run: 'false' });
  const again = metrics.reviews.slot({ dry_run: 'false', reason: 'injected', outcome: 'injected' });
  t.equal(again, injected, 'one slot per label set, whatever the key order');
  const denied = metrics.reviews.slot({ outcome: 'denied', reason: 'unknown-template', dry_run: 'true' });
  injected.count += 2;
  again.count += 1;
  denied.count += 1;
  const first = await metrics.registry.metrics();
  t.match(first, /podpattern_reviews_total\{outcome="injected",reason="injected",dry_run="false"\} 3\n/);
  t.match(first, /podpattern_reviews_total\{outcome="denied",reason="unknown-template",dry_run="true"\} 1\n/);
  injected.count += 4;
  const second = await metrics.registry.metrics();
  t.match(second, /podpattern_reviews_total\{outcome="injected",reason="injected",dry_run="false"\} 7\n/, 'counts add up, never reset');
  t.match(second, /podpattern_reviews_total\{outcome="denied",reason="unknown-template",dry_run="true"\} 1\n/, 'an idle slot keeps its total');
  t.match(await metrics.registry.metrics(), /dry_run="false"\} 7\n/, 'reading twice counts nothing twice');
});

t.test('a label set never counted does not appear', async (t) => {
  const metrics = createMetrics({ processMetrics: false });
  metrics.injections.slot({ template: 'https-proxy', pattern: 'ambassador' });
  t.notMatch(await metrics.registry.metrics(), /podpattern_injections_total\{/);
});
