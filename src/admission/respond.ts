// Builds AdmissionResponses. Every decision about a pod is one of these, answered with HTTP 200
// in the apiVersion the request came in.
import type { Operation as PatchOperation } from 'fast-json-patch';
import type { Problem } from '../engine/types.js';
import type { AdmissionApiVersion, AdmissionResponse, OutgoingReview } from './types.js';

export function toReview(apiVersion: AdmissionApiVersion, response: AdmissionResponse): OutgoingReview {
  return { apiVersion, kind: 'AdmissionReview', response };
}

/**
 * Admits the object, with the patch only when it changes something and warnings only when there
 * are any. `patchJson`, when given, is JSON.stringify(patch) already made (the engine makes it to
 * bound the patch's size).
 */
export function allow(
  uid: string,
  patch: readonly PatchOperation[] = [],
  warnings: readonly string[] = [],
  patchJson?: string,
): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(patchJson ?? JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = [...warnings];
  return response;
}

/** Refuses the pod: `message` is what kubectl shows; each problem also becomes a machine-readable cause. */
export function deny(uid: string, message: string, problems: readonly Problem[], warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = {
    uid,
    allowed: false,
    status: {
      code: 403,
      reason: 'Forbidden',
      message,
      details: {
        causes: problems.map((problem) => ({
          reason: problem.code,
          message: problem.message,
          ...(problem.template === undefined ? {} : { field: `template ${problem.template}` }),
        })),
      },
    },
  };
  if (warnings.length > 0) response.warnings = [...warnings];
  return response;
}

/** Refuses because podpattern itself failed (failure mode closed): a 500, so it reads as our fault, not the pod's. */
export function denyInternal(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 500, reason: 'InternalError', message } };
}
