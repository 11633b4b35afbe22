// What `npm run bench:cluster` (burst-bench.ts) prints: the counts of each phase, the API
// server's own durations over it, and the targets met or missed. Markdown tables, so that
// bench/RESULTS.md can take them as they are.
import type { BurstCount } from './burst.js';
import { FLOOR_SUFFIX } from './burst-floor.js';
import type { Kube } from './kube.js';
import {
  counter,
  histogram,
  histogramDelta,
  ms,
  parseMetrics,
  quantile,
  shareAtMost,
  type Histogram,
  type Labels,
  type Sample,
} from '../../bench/apiserver-metrics.js';

const METRIC_PREFIXES = [
  'apiserver_admission_',
  'apiserver_mutating_admission_policy_',
  'apiserver_request_duration_seconds',
  'apiserver_request_total',
];

/** The API server's own /metrics, the series `figures` reads. */
export async function readMetrics(kube: Kube): Promise<Sample[]> {
  return parseMetrics(await kube.must(['get', '--raw', '/metrics']), METRIC_PREFIXES);
}

export interface Figures {
  /** podpattern's webhook calls, per namespace mode and in all. */
  webhook: Record<'enabled' | 'required' | 'all', Histogram>;
  /** The floor webhooks' calls (burst-floor.ts). */
  floor: Histogram;
  /** apiserver_admission_webhook_rejection_count for podpattern's and the floor webhooks, by error_type. */
  rejections: Record<string, number>;
  failOpen: number;
  /** The mutating admission plugins, per admitted CREATE (pods and everything else created meanwhile). */
  webhookPlugin: Histogram;
  policyPlugin: Histogram;
  /** The mutating policies' own evaluations. */
  policyChecks: Histogram;
  /** Pod creations (POST, not dry run) as the API server timed them, and their answers by code. */
  podCreates: Histogram;
  podCreateCodes: Record<string, number>;
}

/** Which admission the phase's pods go through: podpattern's webhook, its policies, or a floor webhook. */
export type PhasePath = 'webhook' | 'policies' | 'floor-node' | 'floor-node-threads' | 'floor-go';

export interface PhaseResult {
  name: string;
  path: PhasePath;
  upgrade: boolean;
  counts: Array<BurstCount & { mode: string }>;
  figures: Figures;
  rollout?: string;
  /** podpattern's own view of the phase (its replicas' metrics), where the replicas lived through it. */
  own?: string;
  load: string;
}

const isPodpattern = (l: Labels): boolean => (l.name ?? '').endsWith('.podpattern.dev');
const isFloor = (l: Labels): boolean => (l.name ?? '').endsWith(FLOOR_SUFFIX);
const isMeasured = (l: Labels): boolean => isPodpattern(l) || isFloor(l);
const admitCreate = (l: Labels): boolean => l.type === 'admit' && l.operation === 'CREATE';
const podPost = (l: Labels): boolean =>
  l.verb === 'POST' && l.resource === 'pods' && (l.subresource ?? '') === '' && (l.dry_run ?? '') === '';

function byLabel(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  label: string,
  select: (l: Labels) => boolean,
): Record<string, number> {
  const values = new Set(after.filter((s) => s.name === name && select(s.labels)).map((s) => s.labels[label] ?? ''));
  const out: Record<string, number> = {};
  for (const v of values) {
    const delta =
      counter(after, name, (l) => select(l) && (l[label] ?? '') === v) - counter(before, name, (l) => select(l) && (l[label] ?? '') === v);
    if (delta !== 0) out[v] = delta;
  }
  return out;
}

/** What the API server observed between two readings of its /metrics. */
export function figures(before: readonly Sample[], after: readonly Sample[]): Figures {
  const delta = (name: string, select: (l: Labels) => boolean): Histogram =>
    histogramDelta(histogram(after, name, select), histogram(before, name, select));
  const webhookMetric = 'apiserver_admission_webhook_admission_duration_seconds';
  const plugin = (name: string) =>
    delta('apiserver_admission_controller_admission_duration_seconds', (l) => l.name === name && admitCreate(l));
  return {
    webhook: {
      enabled: delta(webhookMetric, (l) => isPodpattern(l) && admitCreate(l) && (l.name ?? '').includes('-enabled.')),
      required: delta(webhookMetric, (l) => isPodpattern(l) && admitCreate(l) && (l.name ?? '').includes('-required.')),
      all: delta(webhookMetric, (l) => isPodpattern(l) && admitCreate(l)),
    },
    floor: delta(webhookMetric, (l) => isFloor(l) && admitCreate(l)),
    rejections: byLabel(before, after, 'apiserver_admission_webhook_rejection_count', 'error_type', isMeasured),
    failOpen:
      counter(after, 'apiserver_admission_webhook_fail_open_count', isMeasured) -
      counter(before, 'apiserver_admission_webhook_fail_open_count', isMeasured),
    webhookPlugin: plugin('MutatingAdmissionWebhook'),
    policyPlugin: plugin('MutatingAdmissionPolicy'),
    policyChecks: delta('apiserver_mutating_admission_policy_check_duration_seconds', () => true),
    podCreates: delta('apiserver_request_duration_seconds', podPost),
    podCreateCodes: byLabel(before, after, 'apiserver_request_total', 'code', podPost),
  };
}

const pct = (share: number | undefined): string => (share === undefined ? '-' : `${(share * 100).toFixed(1)} %`);
const p50p99 = (h: Histogram): string => `${ms(quantile(h, 0.5))} / ${ms(quantile(h, 0.99))}`;
const isFloorPhase = (r: PhaseResult): boolean => r.path.startsWith('floor-');
/** The webhook calls a phase measures: the floor webhook's in a floor phase, else podpattern's. */
const calls = (r: PhaseResult): Histogram => (isFloorPhase(r) ? r.figures.floor : r.figures.webhook.all);

export function printCounts(results: readonly PhaseResult[]): string {
  const rows = results.flatMap((r) =>
    r.counts.map((c) => {
      const seconds = c.elapsedMs / 1000;
      // A floor webhook injects nothing, so there is nothing to count missing.
      const [injected, missing] = isFloorPhase(r) ? ['-', '-'] : [c.injected, c.missing.count];
      return `| ${r.name} | ${c.mode} | ${c.wanted} | ${c.created} | ${injected} | ${missing} | ${c.failedCreate.count} | ${seconds.toFixed(1)} | ${(c.created / Math.max(seconds, 0.001)).toFixed(0)} |${c.incomplete === undefined ? '' : ` ${c.incomplete}`}${c.failedCreate.messages.length > 0 ? ` FailedCreate: ${c.failedCreate.messages.join(' | ')}` : ''}`;
    }),
  );
  return [
    '| phase | namespace | wanted | created | injected | missing injection | FailedCreate | s to create | pods/s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export function printFigures(results: readonly PhaseResult[]): string {
  const rows = results.map((r) => {
    const { name, figures: f } = r;
    const measured = calls(r);
    const rejections =
      Object.entries(f.rejections)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ') || '0';
    return `| ${name} | ${measured.count} | ${p50p99(measured)} | ${pct(shareAtMost(measured, 0.005))} | ${pct(shareAtMost(measured, 0.025))} | ${rejections}; fail open ${f.failOpen} | ${p50p99(f.webhookPlugin)} (${f.webhookPlugin.count}) | ${p50p99(f.policyPlugin)} (${f.policyPlugin.count}) | ${p50p99(f.policyChecks)} (${f.policyChecks.count}) | ${p50p99(f.podCreates)} (${f.podCreates.count}; ${Object.entries(
      f.podCreateCodes,
    )
      .map(([k, v]) => `${v}x${k}`)
      .join(' ')}) |`;
  });
  return [
    'API server histograms over each phase, p50 / p99 in ms (estimated within buckets, as histogram_quantile does; the admission histograms have bounds at 5, 25 and 100 ms), observations in brackets:',
    '',
    "| phase | webhook calls (podpattern's, or the floor webhook's) | webhook p50 / p99 | calls <= 5 ms | calls <= 25 ms | rejections | MutatingAdmissionWebhook plugin per CREATE | MutatingAdmissionPolicy plugin per CREATE | policy checks | pod POST request |",
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;
}

/** The targets, each met or missed, and the webhook path's ratios to the policies path's. */
export function printTargets(results: readonly PhaseResult[]): string {
  const lines: string[] = ['| ratio of the webhook path to another | p50 | p99 |', '|---|---|---|'];
  for (const upgrade of [false, true]) {
    const webhook = results.find((r) => r.path === 'webhook' && r.upgrade === upgrade);
    const policies = results.find((r) => r.path === 'policies' && r.upgrade === upgrade);
    if (webhook === undefined || policies === undefined) continue;
    const w = webhook.figures;
    const p = policies.figures;
    const label = upgrade ? ' (with the upgrade)' : '';
    lines.push(
      `| podpattern's webhook call / the MutatingAdmissionPolicy plugin${label} | ${ratio(quantile(w.webhook.all, 0.5), quantile(p.policyPlugin, 0.5))} | ${ratio(quantile(w.webhook.all, 0.99), quantile(p.policyPlugin, 0.99))} |`,
    );
    lines.push(
      `| pod POST request${label} | ${ratio(quantile(w.podCreates, 0.5), quantile(p.podCreates, 0.5))} | ${ratio(quantile(w.podCreates, 0.99), quantile(p.podCreates, 0.99))} |`,
    );
  }
  const webhook = results.find((r) => r.path === 'webhook' && !r.upgrade);
  for (const floor of results.filter(isFloorPhase)) {
    if (webhook === undefined) break;
    const [w, f] = [calls(webhook), calls(floor)];
    lines.push(
      `| podpattern's webhook call / the ${floor.name} webhook's call (no work) | ${ratio(quantile(w, 0.5), quantile(f, 0.5))} | ${ratio(quantile(w, 0.99), quantile(f, 0.99))} |`,
    );
  }
  lines.push('', 'targets:');
  for (const r of results.filter((x) => x.path === 'webhook'))
    lines.push(
      ...targets(
        r,
        results.find((x) => x.path === 'policies' && x.upgrade === r.upgrade),
      ),
    );
  // What a webhook that does no work gets on this machine: the floor under the 25 ms target.
  for (const floor of results.filter(isFloorPhase)) {
    const share = shareAtMost(calls(floor), 0.025);
    lines.push(
      `- ${floor.name}, a webhook that does no work: p99 ${ms(quantile(calls(floor), 0.99))} ms, ${pct(share)} of calls at or under 25 ms: ` +
        `it ${share !== undefined && share >= 0.99 ? 'meets' : 'would MISS'} the 25 ms target too`,
    );
  }
  return lines.join('\n');
}

const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

/** The targets of one webhook phase, against the policies phase run the same way. */
function targets(r: PhaseResult, policies: PhaseResult | undefined): string[] {
  const required = r.counts.find((c) => c.mode === 'required');
  const share = shareAtMost(r.figures.webhook.all, 0.025);
  const p99 = quantile(r.figures.webhook.all, 0.99);
  const reference = policies === undefined ? undefined : quantile(policies.figures.policyPlugin, 0.99);
  const none =
    required !== undefined && required.missing.count === 0 && required.failedCreate.count === 0 && required.created === required.wanted;
  return [
    `- ${r.name}: required namespace ${required?.missing.count ?? '-'} missing injection, ${required?.failedCreate.count ?? '-'} FailedCreate (target 0 and 0): ${verdict(none)}`,
    `- ${r.name}: podpattern's p99 <= 25 ms (${pct(share)} of calls at or under 25 ms; 99 % needed): ${verdict(share !== undefined && share >= 0.99)}`,
    `- ${r.name}: p99 within 2x the policy path's (${ms(p99)} ms against ${ms(reference)} ms): ${verdict(p99 !== undefined && reference !== undefined && p99 <= 2 * reference)}`,
  ];
}
