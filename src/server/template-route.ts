// POST /validate-template and POST /validate-policy: the API server's reviews of PatternTemplate
// and PatternPolicy writes (the chart's ValidatingWebhookConfiguration). Decoded as /mutate is
// (decode.ts), under the same body budget and deadline; the decisions are
// admission/template-review.ts and admission/policy-review.ts. One log line per review, like the
// pod reviews.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { toReview } from '../admission/respond.js';
import { decideTemplate } from '../admission/template-review.js';
import type { ImpactDeps } from '../impact/review.js';
import type { AdmissionRequest, AdmissionResponse } from '../admission/types.js';
import { decidePolicy } from '../admission/policy-review.js';
import type { Catalog } from '../model/template.js';
import { POLICY_GROUP, POLICY_KIND } from '../model/policy.js';
import { readReview, timeBudget } from './decode.js';
import { MAX_LOGGED_NAME, logText } from './log-fields.js';

export const TEMPLATE_REVIEW_PATH = '/validate-template';
export const POLICY_REVIEW_PATH = '/validate-policy';

export interface TemplateRouteDeps {
  logger: Logger;
  /** Waits for room among the bodies in flight before the body is read (body-budget.ts). */
  admitBody: onRequestHookHandler;
  /** When the request arrived (performance.now()). */
  arrivedAt: (request: IncomingMessage) => number;
  /** The impact check of updates and deletes (src/impact/review.ts); none without a cluster. */
  impact?: ImpactDeps;
  /** The catalog in force, that policies are judged against. */
  catalog: () => Catalog | undefined;
}

export function registerTemplateRoute(app: FastifyInstance, deps: TemplateRouteDeps): void {
  // /validate-template answers PatternPolicy reviews too, for a configuration that sends both kinds there.
  registerReview(app, deps, TEMPLATE_REVIEW_PATH, (review, budgetMs) =>
    review.kind.group === POLICY_GROUP && review.kind.kind === POLICY_KIND
      ? decidePolicy(review, deps.catalog())
      : decideTemplate(review, {
          ...(deps.impact === undefined ? {} : { impact: deps.impact }),
          ...(budgetMs === undefined ? {} : { budgetMs }),
        }),
  );
  registerReview(app, deps, POLICY_REVIEW_PATH, (review) => decidePolicy(review, deps.catalog()));
}

function registerReview(
  app: FastifyInstance,
  deps: TemplateRouteDeps,
  path: string,
  decide: (review: AdmissionRequest, budgetMs: number | undefined) => AdmissionResponse,
): void {
  app.post(path, { onRequest: deps.admitBody }, async (request) => {
    const arrived = deps.arrivedAt(request.raw);
    const { apiVersion, request: review } = readReview(request.body);
    const budgetMs = timeBudget(request.query, performance.now() - arrived);
    const started = performance.now();
    let response = decide(review, budgetMs);
    // Past the deadline the API server has given up and applied its failurePolicy (Ignore: the
    // write goes through, and the catalog reports a bad template on its Ready condition). An
    // answer sent anyway says the same thing.
    if (budgetMs !== undefined && performance.now() - started > budgetMs)
      response = notReviewedInTime(review.uid, path === TEMPLATE_REVIEW_PATH ? 'PatternTemplate' : 'PatternPolicy');
    deps.logger.info(
      {
        uid: review.uid,
        kind: logText(review.kind.kind),
        name: logText(review.name, MAX_LOGGED_NAME),
        operation: logText(review.operation),
        allowed: response.allowed,
        dryRun: review.dryRun === true,
        ms: Math.round((performance.now() - arrived) * 1000) / 1000,
      },
      path === TEMPLATE_REVIEW_PATH ? 'template review' : 'policy review',
    );
    return toReview(apiVersion, response);
  });
}

function notReviewedInTime(uid: string, kind: string): AdmissionResponse {
  return {
    uid,
    allowed: true,
    warnings: [
      `podpattern could not review this ${kind} within the API server's timeout; its Ready condition will say whether the catalog accepts it`,
    ],
  };
}
