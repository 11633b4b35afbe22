// The reading of kube-apiserver's /metrics that `npm run bench:cluster` relies on: series
// selected by label, the change between two readings, and percentiles from buckets as
// Prometheus' histogram_quantile() gives them.
import t from 'tap';
import { counter, histogram, histogramDelta, ms, parseMetrics, quantile, shareAtMost } from '../../bench/apiserver-metrics.js';

// Lines as kube-apiserver 1.37 writes them (HELP and TYPE comments, labels in sorted order).
const reading = (
  fast: number,
  mid: number,
  slow: number,
  rejected: number,
): string => `# HELP apiserver_admission_webhook_admission_duration_seconds [STABLE] Admission webhook latency histogram in seconds, identified by name and broken out for each operation and API resource and type (validate or admit).
# TYPE apiserver_admission_webhook_admission_duration_seconds histogram
apiserver_admission_webhook_admission_duration_seconds_bucket{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit",le="0.005"} ${fast}
apiserver_admission_webhook_admission_duration_seconds_bucket{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit",le="0.025"} ${fast + mid}
apiserver_admission_webhook_admission_duration_seconds_bucket{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit",le="0.1"} ${fast + mid + slow}
apiserver_admission_webhook_admission_duration_seconds_bucket{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit",le="+Inf"} ${fast + mid + slow}
apiserver_admission_webhook_admission_duration_seconds_sum{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit"} ${(fast * 0.003 + mid * 0.01 + slow * 0.05).toFixed(6)}
apiserver_admission_webhook_admission_duration_seconds_count{name="injection-required.podpattern.dev",operation="CREATE",rejected="false",type="admit"} ${fast + mid + slow}
apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example.com",operation="CREATE",rejected="false",type="admit",le="0.005"} 1000
apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example.com",operation="CREATE",rejected="false",type="admit",le="0.025"} 1000
apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example.com",operation="CREATE",rejected="false",type="admit",le="0.1"} 1000
apiserver_admission_webhook_admission_duration_seconds_bucket{name="other.example.com",operation="CREATE",rejected="false",type="admit",le="+Inf"} 1000
apiserver_admission_webhook_admission_duration_seconds_count{name="other.example.com",operation="CREATE",rejected="false",type="admit"} 1000
# HELP apiserver_admission_webhook_rejection_count [ALPHA] Admission webhook rejection count.
# TYPE apiserver_admission_webhook_rejection_count counter
apiserver_admission_webhook_rejection_count{error_type="calling_webhook_error",name="injection-required.podpattern.dev",operation="CREATE",rejection_code="0",type="admit"} ${rejected}
apiserver_admission_webhook_rejection_count{error_type="no_error",name="other.example.com",operation="CREATE",rejection_code="400",type="admit"} 7
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="binding",verb="POST",version="v1"} 3
weird_label{message="a \\"quoted\\" value, with \\\\ and a\\nline"} 1
`;

const ours = (l: Record<string, string>): boolean => (l.name ?? '').endsWith('.podpattern.dev');

t.test('series are selected by label, and only the families asked for are kept', async (t) => {
  const samples = parseMetrics(reading(90, 9, 1, 2), ['apiserver_admission_', 'apiserver_request_total', 'weird_']);
  t.equal(counter(samples, 'apiserver_admission_webhook_rejection_count', ours), 2);
  t.equal(counter(samples, 'apiserver_admission_webhook_rejection_count'), 9, 'every series when no selector is given');
  t.equal(
    counter(samples, 'apiserver_request_total', (l) => l.resource === 'pods' && l.subresource === ''),
    12,
    'an empty label value is a value',
  );
  t.equal(
    samples.find((s) => s.name === 'weird_label')?.labels.message,
    'a "quoted" value, with \\ and a\nline',
    'escapes in label values are undone',
  );
  t.same(parseMetrics(reading(1, 1, 1, 1), ['nothing_']), []);
  const h = histogram(samples, 'apiserver_admission_webhook_admission_duration_seconds', ours);
  t.same(h.buckets, [
    { le: 0.005, count: 90 },
    { le: 0.025, count: 99 },
    { le: 0.1, count: 100 },
    { le: Infinity, count: 100 },
  ]);
  t.equal(h.count, 100);
  t.equal(histogram(samples, 'apiserver_admission_webhook_admission_duration_seconds').count, 1100, 'summed over every series');
});

t.test('the change between two readings, and its percentiles as histogram_quantile gives them', async (t) => {
  const prefixes = ['apiserver_admission_'];
  const before = histogram(parseMetrics(reading(50, 0, 0, 0), prefixes), 'apiserver_admission_webhook_admission_duration_seconds', ours);
  const after = histogram(parseMetrics(reading(130, 60, 10, 3), prefixes), 'apiserver_admission_webhook_admission_duration_seconds', ours);
  const delta = histogramDelta(after, before);
  // Over the phase: 80 calls under 5 ms, 60 from 5 to 25 ms, 10 from 25 to 100 ms.
  t.same(
    delta.buckets.map((b) => b.count),
    [80, 140, 150, 150],
  );
  t.equal(delta.count, 150);
  // p50: rank 75 in the first bucket, 75/80 of the way from 0 to 5 ms.
  t.equal(quantile(delta, 0.5)?.toFixed(6), (0.005 * (75 / 80)).toFixed(6));
  // p99: rank 148.5 in the third bucket, 8.5/10 of the way from 25 to 100 ms.
  t.equal(quantile(delta, 0.99)?.toFixed(6), (0.025 + 0.075 * (8.5 / 10)).toFixed(6));
  t.equal(shareAtMost(delta, 0.025)?.toFixed(4), (140 / 150).toFixed(4));
  t.equal(shareAtMost(delta, 0.05), undefined, 'a share is given only at a bucket bound');
  t.equal(ms(quantile(delta, 0.99)), '88.8');
});

t.test('edge cases: empty, everything past the last bound, nothing before', async (t) => {
  const empty = {
    buckets: [
      { le: 0.005, count: 0 },
      { le: Infinity, count: 0 },
    ],
    count: 0,
    sum: 0,
  };
  t.equal(quantile(empty, 0.99), undefined);
  t.equal(shareAtMost(empty, 0.005), undefined);
  t.equal(ms(undefined), '-');
  const overflow = {
    buckets: [
      { le: 0.005, count: 1 },
      { le: 0.025, count: 1 },
      { le: Infinity, count: 10 },
    ],
    count: 10,
    sum: 1,
  };
  t.equal(quantile(overflow, 0.99), 0.025, 'a rank in the +Inf bucket gives the highest finite bound');
  const fresh = histogramDelta(
    {
      buckets: [
        { le: 0.005, count: 4 },
        { le: Infinity, count: 4 },
      ],
      count: 4,
      sum: 0.01,
    },
    { buckets: [], count: 0, sum: 0 },
  );
  t.same(
    fresh.buckets.map((b) => b.count),
    [4, 4],
    'a series the first reading lacked counts from zero',
  );
});
