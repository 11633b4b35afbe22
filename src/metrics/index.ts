// The few metrics podpattern exposes, on a registry of their own (never prom-client's global
// one), created by main and passed to whoever records them. Label values come from closed sets
// (outcomes, reasons, template names in the catalog), so cardinality stays bounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BuildInfo } from '../version/index.js';

export interface Metrics {
  registry: Registry;
  /** Every AdmissionReview answered, by outcome (injected|skipped|denied|allowed|error) and reason. */
  reviews: Counter<'outcome' | 'reason' | 'dry_run'>;
  /** Templates injected into pods (dry runs excluded), by template and pattern. */
  injections: Counter<'template' | 'pattern'>;
  /** Time from a /mutate request's arrival to its answer being ready (the socket write excluded). */
  reviewDuration: Histogram<'outcome'>;
  /** notAfter of the certificate being served, in Unix seconds. */
  certificateExpiry: Gauge;
  /** Templates refused while loading the catalog, by source (builtin, file, cluster). */
  catalogLoadErrors: Counter<'source'>;
  /** 1 while this replica holds the controllers' Lease (runs healing), else 0. */
  leader: Gauge;
  /** Workloads healing restarted because their pods missed injection, by kind. */
  healRestarts: Counter<'kind'>;
  /** Objects healing reported instead of restarting, by kind and reason (not-restartable, still-missed, restart-failed). */
  healReports: Counter<'kind' | 'reason'>;
  /** Pods that missed injection, older than the grace period, at healing's last look. */
  healMissedPods: Gauge;
  /** Healing passes this replica has finished (while leading). */
  healPasses: Counter;
  /**
   * TLS handshakes finished on the webhook port: one per new connection. The API server talks
   * HTTP/1.1 to webhooks, opening a connection for each call in flight beyond its idle ones, so a
   * burst of pod creations shows here as a burst of handshakes.
   */
  tlsHandshakes: Counter;
  /** malloc_trim calls (server/memory-trim.ts), by whether they gave memory back (released: true, false). */
  memoryTrims: Counter<'released'>;
  /** Reviews that used a template in canary, by template, what the namespace got (current, promoted, unavailable) and why. */
  canaryReviews: Counter<'template' | 'serves' | 'reason'>;
  /** 1 while a template's rollout is paused (its podpattern.dev/rollout-paused annotation), else 0, by template; written by the leader. */
  rolloutPaused: Gauge<'template'>;
  /** Restarts the rollout controller made that ended, by result (passed, failed, refused, gone). */
  rolloutRestarts: Counter<'result'>;
  /** Rollout passes this replica has finished (while leading). */
  rolloutPasses: Counter;
}

export interface MetricsOptions {
  /**
   * Also export Node's process metrics (CPU, memory, event loop lag). Default true. They keep
   * prom-client's standard names (process_*, nodejs_*), without a podpattern_ prefix, so the
   * usual Node.js dashboards and alerts work unchanged; the job and pod labels tell processes apart.
   */
  processMetrics?: boolean;
  /** The build to export as podpattern_build_info (value 1, the facts as labels). */
  build?: BuildInfo;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  if (options.build !== undefined) {
    const { version, commit, node } = options.build;
    new Gauge({
      name: 'podpattern_build_info',
      help: 'The podpattern build serving: always 1, with version, commit and Node.js version as labels.',
      labelNames: ['version', 'commit', 'node_version'],
      registers,
    }).set({ version, commit, node_version: node }, 1);
  }
  return {
    registry,
    reviews: new Counter({
      name: 'podpattern_reviews_total',
      help: 'AdmissionReviews answered, by outcome and reason.',
      labelNames: ['outcome', 'reason', 'dry_run'],
      registers,
    }),
    injections: new Counter({
      name: 'podpattern_injections_total',
      help: 'Templates injected into admitted pods (dry runs excluded), by template and pattern.',
      labelNames: ['template', 'pattern'],
      registers,
    }),
    reviewDuration: new Histogram({
      name: 'podpattern_review_duration_seconds',
      help: 'Time to answer an AdmissionReview, from the request arriving to the answer being ready.',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    certificateExpiry: new Gauge({
      name: 'podpattern_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the serving certificate in use, as a Unix timestamp.',
      registers,
    }),
    catalogLoadErrors: new Counter({
      name: 'podpattern_catalog_load_errors_total',
      help: 'Templates refused while loading the catalog, by source.',
      labelNames: ['source'],
      registers,
    }),
    leader: new Gauge({
      name: 'podpattern_leader',
      help: "1 while this replica holds the controllers' Lease and runs healing, else 0.",
      registers,
    }),
    healRestarts: new Counter({
      name: 'podpattern_heal_restarts_total',
      help: 'Workloads restarted because their pods missed injection, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    healReports: new Counter({
      name: 'podpattern_heal_reports_total',
      help: 'Objects whose pods missed injection that were reported (an Event) instead of restarted, by kind and reason.',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    healMissedPods: new Gauge({
      name: 'podpattern_heal_missed_pods',
      help: 'Pods in enabled namespaces that asked for templates and carry no podpattern status, at the last look.',
      registers,
    }),
    healPasses: new Counter({
      name: 'podpattern_heal_passes_total',
      help: 'Healing passes finished by this replica while it led (a look at the cluster that may restart or report).',
      registers,
    }),
    ...servingMetrics(registers),
    ...rolloutMetrics(registers),
  };
}

/** The connections reviews arrive on, the templates in canary they used, and the memory they leave. */
function servingMetrics(registers: Registry[]): Pick<Metrics, 'tlsHandshakes' | 'canaryReviews' | 'memoryTrims'> {
  return {
    tlsHandshakes: new Counter({
      name: 'podpattern_tls_handshakes_total',
      help: 'TLS handshakes finished on the webhook port, one per new connection.',
      registers,
    }),
    canaryReviews: new Counter({
      name: 'podpattern_canary_reviews_total',
      help: 'Reviews that used a template in canary, by template, what the namespace got (current, promoted, unavailable) and why (canary-namespace, outside-canary, namespace-unknown).',
      labelNames: ['template', 'serves', 'reason'],
      registers,
    }),
    memoryTrims: new Counter({
      name: 'podpattern_memory_trims_total',
      help: "Times the C heap's free pages were offered back to the system (malloc_trim), by whether any were (released).",
      labelNames: ['released'],
      registers,
    }),
  };
}

/** The rollout controller's metrics (src/rollout/). */
function rolloutMetrics(registers: Registry[]): Pick<Metrics, 'rolloutPaused' | 'rolloutRestarts' | 'rolloutPasses'> {
  return {
    rolloutPaused: new Gauge({
      name: 'podpattern_rollout_paused',
      help: "1 while the template's rollout is paused (a restarted workload failed its health gate, could not be restarted, or someone paused it), else 0; written by the replica that leads.",
      labelNames: ['template'],
      registers,
    }),
    rolloutRestarts: new Counter({
      name: 'podpattern_rollout_restarts_total',
      help: 'Workloads the rollout controller restarted whose restart ended, by result (passed, failed, refused, gone).',
      labelNames: ['result'],
      registers,
    }),
    rolloutPasses: new Counter({
      name: 'podpattern_rollout_passes_total',
      help: 'Rollout passes finished by this replica while it led.',
      registers,
    }),
  };
}

/** `file:/etc/x.yaml` -> `file`: the label keeps the kind of source, not every path. */
export function sourceLabel(source: string): string {
  const colon = source.indexOf(':');
  return colon === -1 ? source : source.slice(0, colon);
}
