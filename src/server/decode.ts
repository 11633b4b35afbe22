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
 * Parses and reads a review's body (the text app.ts's JSON parser hands over, read by
 * readBodyText); a body that is not one is a 4xx. Fastify skips the parser when a POST has no body at all (no Content-Length, no
 * chunks): then `body` is undefined.
 */
export function readReview(body: unknown): IncomingReview {
  if (typeof body !== 'string' || body === '') throw new HttpError('empty-body', 'the body is empty: send an AdmissionReview as JSON');
  if (exceedsSeparators(body)) {
    throw new HttpError(
      'review-too-complex',
      `the body holds more than ${MAX_JSON_SEPARATORS} JSON values; no review is that large, so it is refused before parsing`,
    );
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
  if (ms === undefined)
    throw new HttpError(
      'invalid-timeout',
      `timeout=${typeof timeout === 'string' ? timeout : JSON.stringify(timeout)} is not a duration such as 10s or 500ms`,
    );
  return ms - elapsedMs - TIMEOUT_MARGIN_MS;
}

/**
 * A request body as text, each chunk decoded as it arrives (as Buffer#toString('utf8') would: a
 * BOM kept, a bad sequence U+FFFD, a character split across chunks kept whole), so no chunk
 * outlives the next few and no copy of the whole body is made outside V8's heap. Fastify's own
 * reader keeps every chunk until the end, then copies them into one Buffer and decodes that:
 * the chunks of a 3 MiB body lived long enough to be promoted, and with the copy they are memory
 * outside the heap that V8 collects only once some 64 MiB more of it is held (on Node 24, the
 * decoded text too: toString('utf8') of an ASCII buffer above 1 MiB makes an external string).
 * Through the hostile mix of test/serve-hardening.test.ts on Node 24 that was tens of MiB of
 * peak (docs/install.md has the figures).
 */
export function readBodyText(
  payload: NodeJS.ReadableStream,
  contentLength: string | undefined,
  limitBytes: number,
  done: (error: Error | null, text?: string) => void,
): void {
  const declared = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (declared > limitBytes) {
    done(new HttpError('body-too-large', `the body is larger than ${limitBytes} bytes`));
    return;
  }
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const parts: string[] = [];
  let received = 0;
  const stop = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limitBytes) {
      stop();
      done(new HttpError('body-too-large', `the body is larger than ${limitBytes} bytes`));
      return;
    }
    parts.push(decoder.decode(bytes, { stream: true }));
  }
  function onEnd(error?: Error): void {
    stop();
    if (error !== undefined && error !== null) {
      done(Object.assign(error, { statusCode: 400 }));
      return;
    }
    if (!Number.isNaN(declared) && received !== declared) {
      done(new HttpError('bad-request', `the body has ${received} bytes, not the ${declared} its Content-Length says`));
      return;
    }
    parts.push(decoder.decode());
    done(null, parts.join(''));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}
