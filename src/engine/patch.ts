// The patch: the difference between the pod as it came and the pod the engine made of it.
//
// The engine never edits the pod it is given. It makes an editable copy (editableCopy) that
// shares every object with the input but the few the composition adds to: the metadata and its
// annotations, the spec and its container, init container and volume lists; an app container
// the composition adds env or mounts to is copied when it does (editableContainer). So the
// diff need not walk what the two share: an object found in both at the same place is the
// same object, unchanged. Pointers are escaped by fast-json-patch's escapePathComponent (`~`
// and `/` in keys, RFC 6901), and test/engine/patch.test.ts holds the diff to fast-json-patch's
// own applyPatch on many generated pods.
//
// Kept by measurement (bench/RESULTS.md, "Plain over clever"): composing on a structuredClone
// of the pod and diffing with fast-json-patch's compare took 133.7 µs a distinct pod against
// 26.9 µs for the whole engine this way (bench/engine-compare.js, one process, Node 24.22.3):
// 107 µs a review, 10 % of a distinct review's CPU in the server bench of that evening (1,063 µs
// at load 30) and over a third of the 280 to 310 µs measured on a quiet machine.
import jsonpatch, { escapePathComponent, type Operation } from 'fast-json-patch';
import type { PodLike } from './types.js';

/**
 * Operations turning `before` into `after`, walking only where they differ by identity, added
 * to `ops`. Lists are compared by position: items past `before`'s length are added; a shorter
 * list is replaced. A pointer is spelled out only where the two differ.
 */
export function diffPatch(before: unknown, after: unknown, ops: Operation[] = []): Operation[] {
  diff(before, after, '', ops);
  return ops;
}

function diff(before: unknown, after: unknown, path: string, ops: Operation[]): void {
  if (before === after) return;
  if (Array.isArray(before) && Array.isArray(after)) diffLists(before, after, path, ops);
  else if (isObject(before) && isObject(after)) diffObjects(before, after, path, ops);
  // Scalars equal by value need nothing (above); anything else changed shape or value.
  else ops.push({ op: 'replace', path, value: after });
}

function diffLists(before: unknown[], after: unknown[], path: string, ops: Operation[]): void {
  if (after.length < before.length) {
    ops.push({ op: 'replace', path, value: after });
    return;
  }
  for (let i = 0; i < before.length; i += 1) if (before[i] !== after[i]) diff(before[i], after[i], `${path}/${i}`, ops);
  for (let i = before.length; i < after.length; i += 1) ops.push({ op: 'add', path: `${path}/${i}`, value: after[i] });
}

function diffObjects(before: Record<string, unknown>, after: Record<string, unknown>, path: string, ops: Operation[]): void {
  for (const key in before) {
    if (!Object.hasOwn(after, key) || after[key] === undefined) {
      if (before[key] !== undefined) ops.push({ op: 'remove', path: `${path}/${escapePathComponent(key)}` });
    }
  }
  for (const key in after) {
    const value = after[key];
    // Most of a pod is shared by the two: its pointer is not even spelled out.
    if (value === undefined || (value === before[key] && Object.hasOwn(before, key))) continue;
    const at = `${path}/${escapePathComponent(key)}`;
    if (!Object.hasOwn(before, key) || before[key] === undefined) ops.push({ op: 'add', path: at, value });
    else diff(before[key], value, at, ops);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A copy of `pod` that the composition may add to without touching `pod`: new metadata,
 * annotations, spec, lists of containers, init containers and volumes; everything else,
 * the containers too, is shared (a container is copied by editableContainer before it is
 * added to).
 */
export function editableCopy<T extends PodLike>(pod: T): T {
  const metadata = pod.metadata === undefined ? {} : shallowCopy(pod.metadata);
  if (metadata.annotations !== undefined) metadata.annotations = shallowCopy(metadata.annotations);
  const copy = shallowCopy(pod);
  copy.metadata = metadata;
  if (pod.spec !== undefined) {
    const spec = shallowCopy(pod.spec);
    spec.containers = [...pod.spec.containers];
    if (spec.initContainers !== undefined) spec.initContainers = [...spec.initContainers];
    if (spec.volumes !== undefined) spec.volumes = [...spec.volumes];
    copy.spec = spec;
  }
  return copy;
}

/** A copy of a container with its own env and volumeMounts lists, to add to. */
export function editableContainer<C extends { env?: unknown[]; volumeMounts?: unknown[] }>(container: C): C {
  const copy = shallowCopy(container);
  if (copy.env !== undefined) copy.env = [...copy.env];
  if (copy.volumeMounts !== undefined) copy.volumeMounts = [...copy.volumeMounts];
  return copy;
}

/** A shallow copy of an object the composition then adds keys to (annotations, initContainers, env). */
function shallowCopy<T extends object>(object: T): T {
  return { ...object };
}

/**
 * Applies a patch to a copy of `document`; throws when an operation does not apply. One copy:
 * fast-json-patch is told it may edit the clone, rather than cloning it once more itself.
 */
export function applyPatch<T>(document: T, patch: Operation[]): T {
  return jsonpatch.applyPatch(structuredClone(document), patch, true, true).newDocument;
}
