// Builds AdmissionResponses. Every decision about a pod is one of these, answered with HTTP 200
// in the apiVersion the request came in.
import type { Operation as PatchOperation } from 'fast-json-patch';
import type { Problem } from '../engine/types.js';
import type { AdmissionApiVersion, AdmissionResponse, OutgoingReview } from './types.js';

/** Encoded patches by identity: a remembered engine result (see memo.ts) is encoded once. */
const encodedPatches = new WeakMap<readonly PatchOperation[], string>();

function encodePatch(patch: readonly PatchOperation[]): string {
  let encoded = encodedPatches.get(patch);
  if (encoded === undefined) {
    encoded = Buffer.from(JSON.stringify(patch)).toString('base64');
    encodedPatches.set(patch, encoded);
  }
  return encoded;
}

export function toReview(apiVersion: AdmissionApiVersion, response: AdmissionResponse): OutgoingReview {
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** The JSON of each response after its uid (it does not depend on the review's apiVersion, which comes before). */
const encodedTails = new WeakMap<AdmissionResponse, string>();

/**
 * The review as `JSON.stringify(toReview(apiVersion, { ...response, uid }))` would give it.
 * Everything after the uid is encoded once per response object and reused: a remembered answer
 * (admission/replay.ts) is sent again for each replica of a ReplicaSet with only the uid
 * changed, and re-encoding a kilobytes-long patch each time would be most of the cost.
 */
export function encodeReview(apiVersion: AdmissionApiVersion, response: AdmissionResponse, uid: string = response.uid): string {
  let tail = encodedTails.get(response);
  if (tail === undefined) {
    const { uid: _uid, ...rest } = response;
    // `{"allowed":...}` becomes `,"allowed":...}}`: the response's fields after the uid, then the review's end.
    tail = `,${JSON.stringify(rest).slice(1)}}`;
    encodedTails.set(response, tail);
  }
  return `{"apiVersion":${JSON.stringify(apiVersion)},"kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)}${tail}`;
}

/** Admits the object, with the patch only when it changes something and warnings only when there are any. */
export function allow(uid: string, patch: readonly PatchOperation[] = [], warnings: readonly string[] = []): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = encodePatch(patch);
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
