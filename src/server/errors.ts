// Every HTTP error the server returns, with its stable code, in one place. Bodies are JSON:
// {"statusCode":415,"code":"unsupported-media-type","error":"Unsupported Media Type","message":"..."}.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { printable } from '../engine/bounds.js';

export const ERROR_CODES = {
  'unsupported-media-type': 415,
  'invalid-json': 400,
  'empty-body': 400,
  'body-too-large': 413,
  'review-too-complex': 413,
  'not-an-admission-review': 400,
  'unsupported-api-version': 400,
  'missing-request': 400,
  'invalid-request': 400,
  'invalid-timeout': 400,
  'bad-request': 400,
  'client-not-authenticated': 403,
  'not-found': 404,
  'request-timeout': 408,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class HttpError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.statusCode = ERROR_CODES[code];
  }
}

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
}

/** Longest message an error body or its log line carries: a parser's message can quote the body. */
const MAX_MESSAGE = 1024;

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  const statusCode = ERROR_CODES[code];
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message: printable(message, MAX_MESSAGE) };
}

/** Fastify's own errors (from its body parsing) mapped to ours. */
const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported-media-type',
    message: 'send the AdmissionReview with Content-Type: application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body-too-large' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad-request' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'empty-body', message: 'the body is empty: send an AdmissionReview as JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid-json' },
};

export function toErrorBody(error: FastifyError | HttpError): ErrorBody {
  if (error instanceof HttpError) return errorBody(error.code, error.message);
  const known = error.code === undefined ? undefined : FASTIFY_CODES[error.code];
  if (known !== undefined) return errorBody(known.code, known.message ?? error.message);
  // Fastify marks JSON.parse failures with a 400 and the parser's own message.
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return errorBody('invalid-json', `the body is not valid JSON: ${error.message}`);
  }
  const status = error.statusCode ?? 500;
  if (status === 408) return errorBody('request-timeout', error.message);
  if (status >= 400 && status < 500)
    return { ...errorBody('bad-request', error.message), statusCode: status, error: STATUS_CODES[status] ?? 'Error' };
  return errorBody('internal', 'internal error; see the podpattern logs');
}

/** Fastify error handler: a JSON body always; a log line at warn for 4xx, error for 5xx. */
export function handleError(logger: Logger) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): ErrorBody => {
    const body = toErrorBody(error);
    const fields = {
      method: request.method,
      url: printable(request.url, 256),
      statusCode: body.statusCode,
      code: body.code,
      reason: body.message,
    };
    if (body.statusCode >= 500) logger.error({ ...fields, err: error }, 'request failed');
    else logger.warn(fields, 'bad request');
    void reply.code(body.statusCode).type('application/json; charset=utf-8');
    return body;
  };
}
