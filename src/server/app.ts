// buildApp(deps): the HTTPS admission app. It never listens (main does), so tests drive it with
// app.inject() and only the TLS tests open a socket. The route decodes, asks admission/decide,
// records the decision and encodes; nothing about pods is decided here.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { readAdmissionReview } from '../admission/read.js';
import { toReview } from '../admission/respond.js';
import { decide, failed, podLabel, type Decision, type ReviewDeps } from '../admission/review.js';
import type { AdmissionRequest } from '../admission/types.js';
import type { Metrics } from '../metrics/index.js';
import { HttpError, errorBody, handleError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import { parseGoDuration } from './timeout.js';

/** The API server sends at most 3 MiB objects; 6 MiB leaves room for the review around one. */
export const BODY_LIMIT_BYTES = 6 * 1024 * 1024;
/** Above the API server's 90 s idle timeout, so the client, not us, closes idle connections. */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;
export const HEADERS_TIMEOUT_MS = 15_000;
export const REQUEST_TIMEOUT_MS = 35_000;
/** Part of the API server's `?timeout=` kept back for sending the answer. */
const TIMEOUT_MARGIN_MS = 50;

export interface AppDeps extends ReviewDeps {
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Certificate and key to serve HTTPS with; without them the app is plain HTTP (tests, benchmarks). */
  tls?: { cert: string; key: string };
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }), // one line per review, written by the route
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ...(deps.tls === undefined ? {} : { https: { cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' as const } }),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;

  // Only JSON: Fastify's default text/plain parser would hand the route a string.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, parseJson);

  app.setErrorHandler(handleError(deps.logger));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404);
    return errorBody('not-found', `no route ${request.method} ${request.url}: the webhook serves POST /mutate`);
  });
  app.addHook('onSend', async (_request, reply) => {
    // While draining, each response ends its connection so the client reconnects to a ready replica.
    if (deps.lifecycle.draining) void reply.header('connection', 'close');
  });

  app.post('/mutate', async (request, reply): Promise<Buffer> => {
    const read = readAdmissionReview(request.body);
    if (!read.ok) throw new HttpError(read.code, read.message);
    const { apiVersion, request: review } = read.review;
    const budget = timeBudget((request.query as Record<string, unknown>).timeout, reply.elapsedTime);
    const decision = decideWithin(review, deps, budget);
    record(review, decision, reply.elapsedTime, deps);
    // Sent as bytes: a patch runs to kilobytes, and Node writes a Buffer to a TLS socket at a
    // fraction of the cost of a string of the same length (measured in bench/RESULTS.md).
    void reply.type('application/json; charset=utf-8');
    return Buffer.from(JSON.stringify(toReview(apiVersion, decision.response)));
  });

  return app;
}

function parseJson(_request: unknown, body: string | Buffer, done: (error: Error | null, value?: unknown) => void): void {
  if (body.length === 0) {
    done(new HttpError('empty-body', 'the body is empty: send an AdmissionReview as JSON'));
    return;
  }
  try {
    done(null, JSON.parse(body as string));
  } catch (error) {
    done(new HttpError('invalid-json', `the body is not valid JSON: ${(error as Error).message}`));
  }
}

/** Milliseconds left to decide in, from the API server's `?timeout=`; undefined when it sent none. */
function timeBudget(timeout: unknown, elapsedMs: number): number | undefined {
  if (timeout === undefined) return undefined;
  const ms = typeof timeout === 'string' ? parseGoDuration(timeout) : undefined;
  if (ms === undefined) throw new HttpError('invalid-timeout', `timeout=${String(timeout)} is not a duration such as 10s or 500ms`);
  return ms - elapsedMs - TIMEOUT_MARGIN_MS;
}

/**
 * Decides, and answers by the deadline: past it the API server has given up on us and applies
 * its failurePolicy, so a late answer is replaced by our own failure mode. The engine is
 * synchronous, so a timer could only ever fire after it returns; checking the clock before and
 * after gives the same answers without a timer and a promise race on every review.
 */
function decideWithin(request: AdmissionRequest, deps: ReviewDeps, budgetMs: number | undefined): Decision {
  if (budgetMs === undefined) return decide(request, deps);
  if (budgetMs <= 0) return failed(request.uid, 'deadline-exceeded', deps.failureMode);
  const started = performance.now();
  const decision = decide(request, deps);
  return performance.now() - started > budgetMs ? failed(request.uid, 'deadline-exceeded', deps.failureMode) : decision;
}

/** One log line and the metrics for a review. Never the pod itself: it may hold secrets in env. */
function record(request: AdmissionRequest, decision: Decision, elapsedMs: number, deps: AppDeps): void {
  const dryRun = request.dryRun === true;
  const templates = decision.outcome === 'injected' ? decision.templates.map((t) => t.name) : decision.problemTemplates;
  const fields = {
    uid: request.uid,
    namespace: request.namespace,
    pod: podLabel(request),
    kind: request.kind.kind,
    operation: request.operation,
    templates,
    outcome: decision.outcome,
    reason: decision.reason,
    allowed: decision.response.allowed,
    warnings: decision.response.warnings?.length ?? 0,
    dryRun,
    ms: Math.round(elapsedMs * 1000) / 1000,
  };
  if (decision.outcome === 'error') deps.logger.error({ ...fields, err: decision.error }, 'review failed');
  else deps.logger.info(fields, 'review');

  const { metrics } = deps;
  metrics.reviews.inc({ outcome: decision.outcome, reason: decision.reason, dry_run: String(dryRun) });
  metrics.reviewDuration.observe({ outcome: decision.outcome }, elapsedMs / 1000);
  // A dry run creates no pod: counting its templates would overstate what runs in the cluster.
  if (!dryRun) for (const template of decision.templates) metrics.injections.inc({ template: template.name, pattern: template.pattern });
}
