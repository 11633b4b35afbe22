// The parts of a pod the engine reads, checked before it reads them. The API server validates a
// pod only after mutating admission, so a review can carry anything: an annotation that is a
// number, a container without a name, env that is an object. Such a pod is denied with what is
// wrong (never answered by the failure mode, which in "open" mode would admit it uninjected),
// and a pod larger than the engine will look at is denied before any work is done on it.
import { MAX_CONTAINERS, MAX_PER_CONTAINER, MAX_PROBLEMS, MAX_VOLUMES, printable } from './bounds.js';
import type { PodLike, Problem } from './types.js';

const MAX_NAME = 253;
/** Kubernetes' limit on a pod's annotations, keys and values together ("Annotations" in its documentation). */
const MAX_ANNOTATION_BYTES = 256 * 1024;

// A pod that is all well, the usual case, is checked without building anything: messages,
// and the places they name, are spelled out only for what is wrong.

/** The metadata fields that must be strings when present. */
const NAME_FIELDS = ['name', 'generateName', 'namespace'] as const;

/** What is wrong with the shape of the pod's metadata (read to learn what it asks for); none when the engine can read it. */
export function metadataProblems(pod: PodLike): Problem[] {
  const found: string[] = [];
  const metadata: unknown = pod.metadata;
  if (metadata !== undefined && !isObject(metadata)) found.push('metadata is not an object');
  const annotations = isObject(metadata) ? metadata['annotations'] : undefined;
  if (annotations !== undefined && annotations !== null && !isObject(annotations)) found.push('metadata.annotations is not a map');
  if (isObject(annotations)) {
    // The API server refuses more than 256 KiB of annotations (keys and values together), but
    // only when it validates the pod, after mutating admission: checked first here, so that no
    // work on a pod's annotations grows past that.
    // (A value that is not a string is left to readRequests, which says how to quote it.)
    let bytes = 0;
    for (const key in annotations) {
      const value = annotations[key];
      bytes += key.length + (typeof value === 'string' ? value.length : 0);
      if (bytes > MAX_ANNOTATION_BYTES) {
        found.push(`metadata.annotations hold more than ${MAX_ANNOTATION_BYTES / 1024} KiB; Kubernetes allows at most that`);
        break;
      }
    }
  }
  for (const field of NAME_FIELDS) {
    const value = isObject(metadata) ? metadata[field] : undefined;
    if (value !== undefined && typeof value !== 'string') found.push(`metadata.${field} is not a string`);
  }
  return toProblems(found);
}

/** What is wrong with the shape of the pod's spec (read only when it asks for injection); none when the engine can read it. */
export function specProblems(pod: PodLike): Problem[] {
  const found: string[] = [];
  checkNameLengths(pod, found);
  const spec: unknown = pod.spec;
  if (!isObject(spec) || !Array.isArray(spec['containers'])) {
    found.push('the pod has no spec.containers list');
    return toProblems(found);
  }
  const containers = spec['containers'] as unknown[];
  const inits = Array.isArray(spec['initContainers']) ? (spec['initContainers'] as unknown[]) : NONE;
  const volumes = Array.isArray(spec['volumes']) ? (spec['volumes'] as unknown[]) : NONE;
  checkLists(spec, containers.length + inits.length, volumes.length, found);
  if (found.length > 0) return toProblems(found);
  checkEntries(containers, inits, volumes, found);
  if (found.length > 0) return toProblems(found);
  const container = usedTwice(containers, inits);
  if (container !== undefined)
    found.push(`the container name '${printable(container)}' is used twice (containers and init containers share one set of names)`);
  const volume = usedTwice(volumes, NONE);
  if (volume !== undefined) found.push(`the volume name '${printable(volume)}' is used twice`);
  return toProblems(found);
}

/** A list the pod lacks (or that is not a list) reads as empty. */
const NONE: readonly unknown[] = [];

/**
 * $(pod.name) and $(pod.namespace) are rendered into what is injected: a name longer than
 * Kubernetes allows would be copied into the patch, many times over.
 */
function checkNameLengths(pod: PodLike, found: string[]): void {
  for (const field of NAME_FIELDS) {
    const value = pod.metadata?.[field];
    if (typeof value === 'string' && value.length > MAX_NAME)
      found.push(`metadata.${field} is ${value.length} characters long; Kubernetes allows at most ${MAX_NAME}`);
  }
}

/** The lists are lists, and no longer than podpattern injects into. */
function checkLists(spec: Record<string, unknown>, containerCount: number, volumeCount: number, found: string[]): void {
  if (spec['initContainers'] !== undefined && !Array.isArray(spec['initContainers'])) found.push('spec.initContainers is not a list');
  if (spec['volumes'] !== undefined && !Array.isArray(spec['volumes'])) found.push('spec.volumes is not a list');
  if (containerCount > MAX_CONTAINERS)
    found.push(`the pod has ${containerCount} containers and init containers; podpattern injects into pods with at most ${MAX_CONTAINERS}`);
  if (volumeCount > MAX_VOLUMES) found.push(`the pod has ${volumeCount} volumes; podpattern injects into pods with at most ${MAX_VOLUMES}`);
}

/** Each container and volume has the fields the engine reads; stops after MAX_PROBLEMS. */
function checkEntries(containers: readonly unknown[], inits: readonly unknown[], volumes: readonly unknown[], found: string[]): void {
  for (let i = 0; i < containers.length; i += 1) checkContainer('containers', i, containers[i], found);
  if (found.length >= MAX_PROBLEMS) return;
  for (let i = 0; i < inits.length; i += 1) checkContainer('initContainers', i, inits[i], found);
  if (found.length >= MAX_PROBLEMS) return;
  for (let i = 0; i < volumes.length; i += 1) {
    const volume = volumes[i];
    if (!isObject(volume) || typeof volume['name'] !== 'string') found.push(`spec.volumes[${i}] has no name`);
  }
}

/**
 * The first name used twice over the two lists (containers and init containers share one set
 * of names). Kubernetes refuses these too, after admission; the engine tells objects apart by name.
 */
function usedTwice(first: readonly unknown[], second: readonly unknown[]): string | undefined {
  if (first.length + second.length < 2) return undefined;
  const seen = new Set<string>();
  for (const list of [first, second]) {
    for (const item of list) {
      const name = (item as { name: string }).name;
      if (seen.has(name)) return name;
      seen.add(name);
    }
  }
  return undefined;
}

/** A list of a container the engine reads, and the field each of its entries must have. */
interface ContainerList {
  field: 'env' | 'volumeMounts' | 'ports';
  key: 'name' | 'mountPath' | 'containerPort';
  has: (item: Record<string, unknown>) => boolean;
}
const ENV: ContainerList = { field: 'env', key: 'name', has: (item) => typeof item['name'] === 'string' };
const MOUNTS: ContainerList = { field: 'volumeMounts', key: 'mountPath', has: (item) => typeof item['mountPath'] === 'string' };
const PORTS: ContainerList = { field: 'ports', key: 'containerPort', has: (item) => item['containerPort'] !== undefined };

/** Checks `spec.<list>[i]`. */
function checkContainer(list: 'containers' | 'initContainers', i: number, container: unknown, found: string[]): void {
  if (!isObject(container) || typeof container['name'] !== 'string') {
    found.push(`spec.${list}[${i}] has no name`);
    return;
  }
  checkList(list, i, container['env'], ENV, found);
  checkList(list, i, container['volumeMounts'], MOUNTS, found);
  checkList(list, i, container['ports'], PORTS, found);
  const mounts = container['volumeMounts'];
  if (Array.isArray(mounts) && mounts.some(withoutName)) found.push(`spec.${list}[${i}].volumeMounts has an entry without a name`);
}

/** Checks the list `kind` of `spec.<list>[i]`, `items`: a list, not too long, each entry with its field. */
function checkList(list: 'containers' | 'initContainers', i: number, items: unknown, kind: ContainerList, found: string[]): void {
  if (items === undefined || items === null) return;
  if (!Array.isArray(items)) {
    found.push(`spec.${list}[${i}].${kind.field} is not a list`);
    return;
  }
  if (items.length > MAX_PER_CONTAINER) {
    found.push(
      `spec.${list}[${i}].${kind.field} has ${items.length} entries; podpattern injects into pods with at most ${MAX_PER_CONTAINER} per container`,
    );
    return;
  }
  for (let index = 0; index < items.length; index += 1) {
    const item: unknown = items[index];
    if (!isObject(item) || !kind.has(item)) {
      found.push(`spec.${list}[${i}].${kind.field}[${index}] has no ${kind.key}`);
      return;
    }
  }
}

function withoutName(mount: unknown): boolean {
  return isObject(mount) && typeof mount['name'] !== 'string';
}

function toProblems(found: string[]): Problem[] {
  if (found.length === 0) return [];
  return found.map((text) => ({ code: 'invalid-pod', message: `${text}; podpattern cannot read this pod` }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
