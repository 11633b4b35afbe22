// Checks that a parsed JSON body is an AdmissionReview we can answer. What fails here is bad
// HTTP (a 400 with the reason), not a decision about a pod: the API server never sends it.
import { ADMISSION_API_VERSIONS, type AdmissionApiVersion, type IncomingReview } from './types.js';

export type ReadResult = { ok: true; review: IncomingReview } | { ok: false; code: ReadErrorCode; message: string };

/** Stable codes for the ways a body is not an AdmissionReview; the server returns them as `code`. */
export type ReadErrorCode = 'not-an-admission-review' | 'unsupported-api-version' | 'missing-request' | 'invalid-request';

const UID = /^[\x21-\x7e]{1,256}$/;

export function readAdmissionReview(body: unknown): ReadResult {
  if (!isObject(body) || body.kind !== 'AdmissionReview') {
    return fail(
      'not-an-admission-review',
      'the body is not an AdmissionReview: expected {"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{...}}',
    );
  }
  if (!ADMISSION_API_VERSIONS.includes(body.apiVersion as AdmissionApiVersion)) {
    return fail(
      'unsupported-api-version',
      `apiVersion ${JSON.stringify(body.apiVersion)} is not supported: use ${ADMISSION_API_VERSIONS.join(' or ')}`,
    );
  }
  const request = body.request;
  if (!isObject(request)) return fail('missing-request', 'the AdmissionReview has no request object');

  const problems = requestProblems(request);
  if (problems.length > 0) return fail('invalid-request', `the AdmissionReview request is invalid: ${problems.join('; ')}`);

  return {
    ok: true,
    review: { apiVersion: body.apiVersion as AdmissionApiVersion, request: request as unknown as IncomingReview['request'] },
  };
}

/** Every field of the request that has the wrong type; empty when the engine can read it. */
function requestProblems(request: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (typeof request.uid !== 'string' || request.uid === '') problems.push('request.uid must be a non-empty string');
  // The answer echoes the uid, and the log line carries it: the API server's are 36-character UUIDs.
  else if (!UID.test(request.uid)) problems.push('request.uid must be at most 256 printable ASCII characters');
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.kind !== 'string' || typeof kind.version !== 'string' || typeof kind.group !== 'string') {
    problems.push('request.kind must be {group, version, kind} strings');
  }
  if (request.operation !== undefined && typeof request.operation !== 'string') problems.push('request.operation must be a string');
  if (request.namespace !== undefined && typeof request.namespace !== 'string') problems.push('request.namespace must be a string');
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') problems.push('request.dryRun must be a boolean');
  if (request.object !== undefined && request.object !== null && !isObject(request.object))
    problems.push('request.object must be an object');
  return problems;
}

function fail(code: ReadErrorCode, message: string): ReadResult {
  return { ok: false, code, message };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
