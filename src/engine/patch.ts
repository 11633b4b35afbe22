// The patch is a diff of the pod before and after (never hand-built operations), made by
// fast-json-patch, which escapes `/` and `~` in keys as RFC 6901 requires.
import jsonpatch, { type Operation } from 'fast-json-patch';

export function diffPatch(before: object, after: object): Operation[] {
  return jsonpatch.compare(before, after);
}

/** Applies a patch to a copy of `document`; throws when an operation does not apply. */
export function applyPatch<T>(document: T, patch: Operation[]): T {
  return jsonpatch.applyPatch(structuredClone(document), patch, true, false).newDocument;
}

/** Applies a patch to `document` itself (one clone fewer than applyPatch, for a large pod). */
export function applyPatchInPlace<T>(document: T, patch: Operation[]): T {
  return jsonpatch.applyPatch(document, patch, true, true).newDocument;
}
