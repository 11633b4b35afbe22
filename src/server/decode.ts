// Reading an AdmissionReview out of a request body, the same for every route: an empty body, a
// body with more JSON values than any review (json-budget.ts), one that is not JSON or not a
// review, and a `?timeout=` that is not a duration each get a 4xx with a stable code.
import { readAdmissionReview } from '../admission/read.js';
import type { IncomingReview } from '../admission/types.js';
import { HttpError } from './errors.js';
import { MAX_JSON_SEPARATORS, exceedsSeparators } from './json-budget.js';
import { parseGoDuration } from './timeout.js';

/** Part of the API server's `?timeout=` kept back for sending the answer. */
const TIMEOUT_MARGIN_MS = 50;

/**
 * Parses and reads a review's body (the JSON text parseText handed over); a body that is not one
 * is a 4xx. Fastify skips the parser when a POST has no body at all (no Content-Length, no
 * chunks): then `body` is undefined.
 */
export function readReview(body: unknown): IncomingReview {
  if (typeof body !== 'string' || body === '') throw new HttpError('empty-body', 'the body is empty: send an AdmissionReview as JSON');
  if (exceedsSeparators(body)) {
    throw new HttpError('review-too-complex', `the body holds more than ${MAX_JSON_SEPARATORS} JSON values; no review is that large, so it is refused before parsing`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new HttpError('invalid-json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  const read = readAdmissionReview(parsed);
  if (!read.ok) throw new HttpError(read.code, read.message);
  return read.review;
}

/** Milliseconds left to decide in, from the API server's `?timeout=`; undefined when it sent none. */
export function timeBudget(query: unknown, elapsedMs: number): number | undefined {
  const timeout = (query as Record<string, unknown> | undefined)?.timeout;
  if (timeout === undefined) return undefined;
  const ms = typeof timeout === 'string' ? parseGoDuration(timeout) : undefined;
  if (ms === undefined) throw new HttpError('invalid-timeout', `timeout=${typeof timeout === 'string' ? timeout : JSON.stringify(timeout)} is not a duration such as 10s or 500ms`);
  return ms - elapsedMs - TIMEOUT_MARGIN_MS;
}
