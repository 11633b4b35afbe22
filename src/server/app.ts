// buildApp(deps): the HTTPS admission app. It never listens (main does), so tests drive it with
// app.inject() and only the TLS tests open a socket. The route decodes, asks admission/decide,
// records the decision and encodes; nothing about pods is decided here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { toReview } from '../admission/respond.js';
import { decide, engineOptions, factsOf, failed, type Decision, type ReviewDeps } from '../admission/review.js';
import type { AdmissionRequest, OutgoingReview } from '../admission/types.js';
import type { EventSink } from '../events/recorder.js';
import { reviewEvent } from '../events/review-event.js';
import type { Metrics } from '../metrics/index.js';
import { HttpError, errorBody, handleError } from './errors.js';
import type { Lifecycle } from './lifecycle.js';
import { BodyBudget } from './body-budget.js';
import { cohort } from './cohort.js';
import { readBodyText, readReview, timeBudget } from './decode.js';
import { registerTemplateRoute } from './template-route.js';
import { registerWorkloadRoute } from './workload-route.js';
import type { ImpactDeps } from '../impact/review.js';
import { logNames, logText } from './log-fields.js';

/** The API server sends at most 3 MiB objects; 6 MiB leaves room for the review around one. */
export const BODY_LIMIT_BYTES = 6 * 1024 * 1024;
/**
 * Bytes of review bodies read and held at once (body-budget.ts): one 3 MiB review and the
 * ordinary ones beside it. Sixteen 3 MiB reviews at once at 16 MiB ran a 96 MiB heap out of
 * memory; at 4 MiB the server's peak stayed near 140 MB resident (test/serve-hardening.test.ts).
 */
export const BODY_BUDGET_BYTES = 4 * 1024 * 1024;
/** Above the API server's 90 s idle timeout, so the client, not us, closes idle connections. */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** A TLS handshake not done by then is dropped (Node's default is 120 s). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
export const HEADERS_TIMEOUT_MS = 10_000;
/**
 * A request's headers and body must have arrived this long after it began, or it gets a 408 and
 * its connection is closed, freeing the room it held in the body budget. The API server's own
 * timeout for a webhook call is 10 s by default (at most 30 s): a body still arriving after that
 * is one nobody waits for.
 */
export const READ_TIMEOUT_MS = 10_000;
/** A request, waiting for room included, is dropped after this many read timeouts. */
const REQUEST_TIMEOUT_FACTOR = 3;

export interface AppDeps extends ReviewDeps {
  logger: Logger;
  metrics: Metrics;
  lifecycle: Lifecycle;
  /** Bytes of bodies read at once; BODY_BUDGET_BYTES when absent. */
  bodyBudgetBytes?: number;
  /** How long a request's headers and body may take to arrive; READ_TIMEOUT_MS when absent. */
  limits?: { readTimeoutMs?: number };
  /** Where Events about injections and denials go (events/recorder.ts); none when absent. */
  events?: EventSink;
  /** The impact check of PatternTemplate updates and deletes on /validate-template; none when absent. */
  templateImpact?: ImpactDeps;
  /**
   * Certificate and key to serve HTTPS with; without them the app is plain HTTP (tests,
   * benchmarks). With `clientCa`, the server asks each client for a certificate signed by it.
   */
  tls?: { cert: string; key: string; clientCa?: string };
  /**
   * What a client without a certificate the client CA verified may do (see CLIENT_AUTH_MODES in
   * config.ts): `none` (the default) does not ask; `events`: its reviews are answered but write no
   * Event; `required`: it gets a 403.
   */
  clientAuth?: ClientAuthMode;
}

export type ClientAuthMode = 'none' | 'events' | 'required';

export function buildApp(deps: AppDeps): FastifyInstance {
  const readTimeoutMs = deps.limits?.readTimeoutMs ?? READ_TIMEOUT_MS;
  // A body's read timeout is kept by body-budget.ts, from when reading starts. Node's own request
  // timeout, from when the request began, is the backstop for the time spent waiting for room
  // as well. Node checks it and headersTimeout every connectionsCheckingInterval (30 s by
  // default): a slow sender under a 30 s request timeout held its connection for up to 58 s.
  const checkEveryMs = Math.max(10, Math.min(1_000, readTimeoutMs / 4));
  // A client CA is what makes a client authenticated: without one, nobody is asked.
  const clientAuth = deps.tls?.clientCa === undefined ? 'none' : (deps.clientAuth ?? 'none');
  const app = Fastify({
    // No logger inside Fastify: the route writes one line per review and the error handler one
    // per failed request, both to deps.logger. Fastify's own lines are about misuse of Fastify
    // (which the tests would show) and debug-level client errors, and keeping a logger wired
    // through every request cost ~10% of a review (bench/RESULTS.md).
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_FACTOR * readTimeoutMs,
    // Idle connections are closed by connections.ts, the same way on every Node version.
    connectionTimeout: 0,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ...(deps.tls === undefined
      ? { http: { connectionsCheckingInterval: checkEveryMs } }
      : { https: { ...httpsOptions(deps.tls, clientAuth), connectionsCheckingInterval: checkEveryMs } }),
  }) as unknown as FastifyInstance;
  app.server.headersTimeout = Math.min(HEADERS_TIMEOUT_MS, readTimeoutMs);

  // Only application/json (anything else is a 415), handed over as text: the routes count its
  // values before parsing it (json-budget.ts), and readReview refuses an empty one.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (request, payload, done) => {
    readBodyText(payload, request.headers['content-length'], BODY_LIMIT_BYTES, done);
  });

  app.setErrorHandler(handleError(deps.logger));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404);
    return errorBody(
      'not-found',
      `no route ${request.method} ${request.url}: the webhook serves POST /mutate, POST /validate-template, POST /validate-policy and POST /validate-workload`,
    );
  });
  // Before Fastify sees a request: note when it arrived (Fastify keeps no clock without a
  // logger), and while draining make the response end its connection, so the client reconnects
  // to a ready replica. On the raw request and response, so it holds for every route, 404 and
  // error alike, without a hook in every request's path.
  app.server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    (request as Arrived)[ARRIVED] = performance.now();
    if (deps.lifecycle.draining) response.setHeader('connection', 'close');
  });

  if (clientAuth === 'required') {
    app.addHook('onRequest', async (request) => {
      if (!authenticated(request.raw))
        throw new HttpError(
          'client-not-authenticated',
          'this webhook answers only the API server: present a client certificate signed by its client CA (see docs/install.md, "Authenticating the API server")',
        );
    });
  }

  // The reviews read in one turn of the event loop are decided one after another once it ends (cohort.ts).
  const decideTogether = cohort();
  const budget = new BodyBudget(deps.bodyBudgetBytes ?? BODY_BUDGET_BYTES, readTimeoutMs);
  // Before Fastify reads the body: wait for room among the bodies in flight (see body-budget.ts).
  const admitBody: onRequestHookHandler = (request, reply, done) => budget.admit(request.raw, reply.raw, BODY_LIMIT_BYTES, () => done());
  app.post('/mutate', { onRequest: admitBody }, async (request): Promise<OutgoingReview> => {
    const arrived = arrivedAt(request.raw);
    const text = request.body; // the JSON text: readReview refuses anything but a non-empty string
    const { apiVersion, request: review } = readReview(text);
    const budgetMs = timeBudget(request.query, 0); // from the review's arrival
    const deadline = budgetMs === undefined ? undefined : arrived + budgetMs;
    return decideTogether((text as string).length, () => {
      const decision = decideBy(review, deps, deadline);
      // Only a review from an authenticated client may write an Event (an Event is a write to the
      // cluster that anyone who can reach this port could otherwise make, in any namespace).
      record(review, decision, performance.now() - arrived, deps, clientAuth === 'none' || authenticated(request.raw));
      return toReview(apiVersion, decision.response);
    });
  });

  registerTemplateRoute(app, {
    logger: deps.logger,
    admitBody,
    arrivedAt,
    catalog: deps.catalog,
    ...(deps.templateImpact === undefined ? {} : { impact: deps.templateImpact }),
  });
  registerWorkloadRoute(app, {
    logger: deps.logger,
    admitBody,
    arrivedAt,
    catalog: deps.catalog,
    options: (request) => engineOptions(request, deps),
  });
  return app;
}

/** TLS settings; with a client CA the server requests a certificate but never refuses the handshake, so a client without one gets an HTTP answer. */
function httpsOptions(tls: NonNullable<AppDeps['tls']>, clientAuth: ClientAuthMode) {
  const base = { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' as const, handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
  if (clientAuth === 'none') return base;
  return { ...base, ca: tls.clientCa, requestCert: true, rejectUnauthorized: false };
}

/** The client presented a certificate that the client CA verified (Node sets `authorized`). */
function authenticated(request: IncomingMessage): boolean {
  return (request.socket as TLSSocket).authorized === true;
}

const ARRIVED = Symbol('podpattern.arrived');
type Arrived = IncomingMessage & { [ARRIVED]?: number };

/** When the request arrived; app.inject() does not pass through the server's listeners: then now. */
function arrivedAt(request: IncomingMessage): number {
  return (request as Arrived)[ARRIVED] ?? performance.now();
}

/**
 * Decides, and answers by the deadline (a `performance.now()` time): past it the API server has
 * given up on us and applies its failurePolicy, so a late answer is replaced by our own failure
 * mode. The engine is synchronous, so a timer could only ever fire after it returns; checking the
 * clock before and after gives the same answers without a timer and a promise race on every review.
 */
function decideBy(request: AdmissionRequest, deps: ReviewDeps, deadline: number | undefined): Decision {
  if (deadline === undefined) return decide(request, deps);
  if (performance.now() >= deadline) return failed(request.uid, 'deadline-exceeded', deps.failureMode);
  const decision = decide(request, deps);
  return performance.now() > deadline ? failed(request.uid, 'deadline-exceeded', deps.failureMode) : decision;
}

/**
 * A review's log line and metrics. The log line never holds the pod itself: it may hold secrets
 * in env. A dry run creates no pod: counting its templates would overstate what runs in the cluster.
 */
function record(review: AdmissionRequest, decision: Decision, elapsedMs: number, deps: AppDeps, mayWriteEvent: boolean): void {
  const facts = factsOf(review);
  const line = {
    namespace: facts.namespace,
    pod: facts.pod,
    kind: logText(facts.kind),
    operation: logText(facts.operation),
    dryRun: facts.dryRun,
    templates: logNames(decision.outcome === 'injected' ? decision.templates.map((t) => t.name) : decision.problemTemplates),
    ...(decision.staged === undefined
      ? {}
      : { revisions: decision.staged.map(({ template, serves, hash, reason }) => ({ template, serves, hash, reason })) }),
    outcome: decision.outcome,
    reason: decision.reason,
    allowed: decision.response.allowed,
    warnings: decision.response.warnings?.length ?? 0,
    uid: facts.uid,
    ms: Math.round(elapsedMs * 1000) / 1000,
  };
  if (decision.outcome === 'error') deps.logger.error({ ...line, err: decision.error }, 'review failed');
  else deps.logger.info(line, 'review');
  const { reviews, reviewDuration, injections } = deps.metrics;
  reviews.inc({ outcome: decision.outcome, reason: decision.reason, dry_run: String(facts.dryRun) });
  reviewDuration.observe({ outcome: decision.outcome }, elapsedMs / 1000);
  if (!facts.dryRun) for (const t of decision.templates) injections.inc({ template: t.name, pattern: t.pattern });
  for (const c of decision.staged ?? []) deps.metrics.canaryReviews.inc({ template: c.template, serves: c.serves, reason: c.reason });
  const event = deps.events === undefined || !mayWriteEvent ? undefined : reviewEvent(facts, decision, review.object);
  if (event !== undefined) deps.events?.record(event);
}
