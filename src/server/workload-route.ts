// POST /validate-workload: the API server's review of a Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob write whose pod template (or own metadata) carries podpattern
// annotations (the chart's ValidatingWebhookConfiguration <release>-workloads). Always admitted;
// the answer's warnings are what `kubectl apply` prints (admission/workload-review.ts decides
// them). Decoded as /mutate is, under the same body budget; one log line per review.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { toReview } from '../admission/respond.js';
import { decideWorkload, type WorkloadReviewDeps } from '../admission/workload-review.js';
import { readReview, timeBudget } from './decode.js';
import { MAX_LOGGED_NAME, logText } from './log-fields.js';

export const WORKLOAD_REVIEW_PATH = '/validate-workload';

export interface WorkloadRouteDeps extends WorkloadReviewDeps {
  logger: Logger;
  admitBody: onRequestHookHandler;
  arrivedAt: (request: IncomingMessage) => number;
}

export function registerWorkloadRoute(app: FastifyInstance, deps: WorkloadRouteDeps): void {
  app.post(WORKLOAD_REVIEW_PATH, { onRequest: deps.admitBody }, async (request) => {
    const arrived = deps.arrivedAt(request.raw);
    const { apiVersion, request: review } = readReview(request.body);
    const budgetMs = timeBudget(request.query, performance.now() - arrived);
    const started = performance.now();
    let response = decideWorkload(review, deps);
    // Past the deadline the API server has moved on (failurePolicy Ignore): nothing to add.
    if (budgetMs !== undefined && performance.now() - started > budgetMs) response = { uid: review.uid, allowed: true };
    deps.logger.info(
      {
        uid: review.uid,
        kind: logText(review.kind.kind),
        namespace: logText(review.namespace ?? '', MAX_LOGGED_NAME),
        name: logText(review.name ?? '', MAX_LOGGED_NAME),
        operation: logText(review.operation),
        warnings: response.warnings?.length ?? 0,
        dryRun: review.dryRun === true,
        ms: Math.round((performance.now() - arrived) * 1000) / 1000,
      },
      'workload review',
    );
    return toReview(apiVersion, response);
  });
}
