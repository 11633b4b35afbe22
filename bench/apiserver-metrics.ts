// kube-apiserver's own measurements, read from the Prometheus text it serves at /metrics
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the cluster burst
// benchmark: counters and histograms summed over the series a caller selects, the change
// between two readings, and percentiles estimated from a histogram's buckets the way
// Prometheus' histogram_quantile() does (https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile).

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** A histogram summed over series: cumulative counts by upper bound, ascending, +Inf last. */
export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** The samples of `text` whose metric name starts with one of `prefixes` (comments and others skipped). */
export function parseMetrics(text: string, prefixes: readonly string[]): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !prefixes.some((p) => line.startsWith(p))) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    const labels: Labels = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key as string] = unescape(value as string);
    const value = match[3] === '+Inf' ? Infinity : Number(match[3]);
    if (!Number.isNaN(value)) samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

export type Selector = (labels: Labels) => boolean;

/** The sum of counter `name` over the series `select` accepts. */
export function counter(samples: readonly Sample[], name: string, select: Selector = () => true): number {
  return samples.filter((s) => s.name === name && select(s.labels)).reduce((sum, s) => sum + s.value, 0);
}

/** Histogram `name` (its _bucket, _count and _sum series) summed over the series `select` accepts. */
export function histogram(samples: readonly Sample[], name: string, select: Selector = () => true): Histogram {
  const byBound = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const s of samples) {
    if (!select(s.labels)) continue;
    if (s.name === `${name}_bucket` && s.labels.le !== undefined) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      byBound.set(le, (byBound.get(le) ?? 0) + s.value);
    } else if (s.name === `${name}_count`) count += s.value;
    else if (s.name === `${name}_sum`) sum += s.value;
  }
  const buckets = [...byBound].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le);
  return { buckets, count, sum };
}

/** What was observed between two readings of one histogram (`before` may lack series `after` has). */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/**
 * The q-quantile (0 < q < 1) of a histogram, as histogram_quantile() estimates it: the bucket
 * holding the rank q * count, linearly interpolated between its lower and upper bound (the first
 * bucket's lower bound is 0); a rank in the +Inf bucket gives the highest finite bound.
 * Undefined for an empty histogram. Only as fine as the buckets: the API server's admission
 * histograms have bounds at 5, 25 and 100 ms.
 */
export function quantile(h: Histogram, q: number): number | undefined {
  const total = h.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of h.buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket === 0 ? le : lower + (le - lower) * ((rank - below) / inBucket);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** The share of observations at or under `bound`, which must be one of the bucket bounds. */
export function shareAtMost(h: Histogram, bound: number): number | undefined {
  const total = h.buckets.at(-1)?.count ?? 0;
  const bucket = h.buckets.find((b) => b.le === bound);
  return total <= 0 || bucket === undefined ? undefined : bucket.count / total;
}

/** Milliseconds with one decimal, or a dash for none. */
export function ms(seconds: number | undefined): string {
  return seconds === undefined ? '-' : (seconds * 1000).toFixed(1);
}
