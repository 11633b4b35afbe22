// POST /validate-template: the API server's review of a PatternTemplate write (the chart's
// ValidatingWebhookConfiguration). Decoding and encoding as for /mutate; the decision is
// admission/template-review.ts. One log line per review, like the pod reviews.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { readAdmissionReview } from '../admission/read.js';
import { toReview } from '../admission/respond.js';
import { decideTemplate } from '../admission/template-review.js';
import { HttpError } from './errors.js';
import { MAX_LOGGED_NAME, logText } from './log-fields.js';

export const TEMPLATE_REVIEW_PATH = '/validate-template';

export function registerTemplateRoute(app: FastifyInstance, logger: Logger): void {
  app.post(TEMPLATE_REVIEW_PATH, async (request) => {
    const started = performance.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body as string);
    } catch (error) {
      throw new HttpError('invalid-json', `the body is not valid JSON: ${(error as Error).message}`);
    }
    const read = readAdmissionReview(parsed);
    if (!read.ok) throw new HttpError(read.code, read.message);
    const { apiVersion, request: review } = read.review;
    const response = decideTemplate(review);
    logger.info(
      { uid: review.uid, kind: logText(review.kind.kind), name: logText(review.name, MAX_LOGGED_NAME), operation: logText(review.operation), allowed: response.allowed, dryRun: review.dryRun === true, ms: Math.round((performance.now() - started) * 1000) / 1000 },
      'template review',
    );
    return toReview(apiVersion, response);
  });
}
