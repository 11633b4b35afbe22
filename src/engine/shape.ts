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

/** What is wrong with the shape of the pod's metadata (read to learn what it asks for); none when the engine can read it. */
export function metadataProblems(pod: PodLike): Problem[] {
  const found: string[] = [];
  const add = (message: string): void => {
    found.push(message);
  };
  const metadata: unknown = pod.metadata;
  if (metadata !== undefined && !isObject(metadata)) add('metadata is not an object');
  const annotations = isObject(metadata) ? metadata['annotations'] : undefined;
  if (annotations !== undefined && annotations !== null && !isObject(annotations)) add('metadata.annotations is not a map');
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
        add(`metadata.annotations hold more than ${MAX_ANNOTATION_BYTES / 1024} KiB; Kubernetes allows at most that`);
        break;
      }
    }
  }
  for (const field of ['name', 'generateName', 'namespace'] as const) {
    const value = isObject(metadata) ? metadata[field] : undefined;
    if (value !== undefined && typeof value !== 'string') add(`metadata.${field} is not a string`);
  }
  return toProblems(found);
}

/** What is wrong with the shape of the pod's spec (read only when it asks for injection); none when the engine can read it. */
export function specProblems(pod: PodLike): Problem[] {
  const found: string[] = [];
  const add = (message: string): void => {
    found.push(message);
  };
  checkNameLengths(pod, add);
  const spec: unknown = pod.spec;
  if (!isObject(spec) || !Array.isArray(spec['containers'])) {
    add('the pod has no spec.containers list');
    return toProblems(found);
  }
  const lists: PodLists = {
    containers: spec['containers'] as unknown[],
    inits: Array.isArray(spec['initContainers']) ? (spec['initContainers'] as unknown[]) : [],
    volumes: Array.isArray(spec['volumes']) ? (spec['volumes'] as unknown[]) : [],
  };
  checkLists(spec, lists, add);
  if (found.length > 0) return toProblems(found);
  checkEntries(lists, found, add);
  if (found.length > 0) return toProblems(found);
  checkDuplicateNames(lists, add);
  return toProblems(found);
}

/** The pod's lists the engine reads; a field that is not a list reads as empty. */
interface PodLists {
  containers: unknown[];
  inits: unknown[];
  volumes: unknown[];
}

/**
 * $(pod.name) and $(pod.namespace) are rendered into what is injected: a name longer than
 * Kubernetes allows would be copied into the patch, many times over.
 */
function checkNameLengths(pod: PodLike, add: (message: string) => void): void {
  for (const field of ['name', 'generateName', 'namespace'] as const) {
    const value = pod.metadata?.[field];
    if (typeof value === 'string' && value.length > MAX_NAME) add(`metadata.${field} is ${value.length} characters long; Kubernetes allows at most ${MAX_NAME}`);
  }
}

/** The lists are lists, and no longer than podpattern injects into. */
function checkLists(spec: Record<string, unknown>, { containers, inits, volumes }: PodLists, add: (message: string) => void): void {
  if (spec['initContainers'] !== undefined && !Array.isArray(spec['initContainers'])) add('spec.initContainers is not a list');
  if (spec['volumes'] !== undefined && !Array.isArray(spec['volumes'])) add('spec.volumes is not a list');
  if (containers.length + inits.length > MAX_CONTAINERS) add(`the pod has ${containers.length + inits.length} containers and init containers; podpattern injects into pods with at most ${MAX_CONTAINERS}`);
  if (volumes.length > MAX_VOLUMES) add(`the pod has ${volumes.length} volumes; podpattern injects into pods with at most ${MAX_VOLUMES}`);
}

/** Each container and volume has the fields the engine reads; stops after MAX_PROBLEMS. */
function checkEntries({ containers, inits, volumes }: PodLists, found: string[], add: (message: string) => void): void {
  for (const [list, items] of [['containers', containers], ['initContainers', inits]] as const) {
    items.forEach((container, i) => checkContainer(`spec.${list}[${i}]`, container, add));
    if (found.length >= MAX_PROBLEMS) return;
  }
  volumes.forEach((volume, i) => {
    if (!isObject(volume) || typeof volume['name'] !== 'string') add(`spec.volumes[${i}] has no name`);
  });
}

/** Kubernetes refuses these too, after admission; the engine tells objects apart by name. */
function checkDuplicateNames({ containers, inits, volumes }: PodLists, add: (message: string) => void): void {
  const container = usedTwice([...containers, ...inits]);
  if (container !== undefined) add(`the container name '${printable(container)}' is used twice (containers and init containers share one set of names)`);
  const volume = usedTwice(volumes);
  if (volume !== undefined) add(`the volume name '${printable(volume)}' is used twice`);
}

function usedTwice(items: unknown[]): string | undefined {
  const seen = new Set<string>();
  for (const item of items) {
    const name = (item as { name: string }).name;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/** A container's lists the engine reads, with the field each entry must have. */
const CONTAINER_LISTS = [['env', 'name'], ['volumeMounts', 'mountPath'], ['ports', 'containerPort']] as const;

function checkContainer(at: string, container: unknown, add: (message: string) => void): void {
  if (!isObject(container) || typeof container['name'] !== 'string') {
    add(`${at} has no name`);
    return;
  }
  for (const [field, key] of CONTAINER_LISTS) {
    const items = container[field];
    if (items === undefined || items === null) continue;
    if (!Array.isArray(items)) {
      add(`${at}.${field} is not a list`);
      continue;
    }
    if (items.length > MAX_PER_CONTAINER) {
      add(`${at}.${field} has ${items.length} entries; podpattern injects into pods with at most ${MAX_PER_CONTAINER} per container`);
      continue;
    }
    const index = items.findIndex((item) => !isObject(item) || item[key] === undefined || (key !== 'containerPort' && typeof item[key] !== 'string'));
    if (index !== -1) add(`${at}.${field}[${index}] has no ${key}`);
  }
  const mounts = container['volumeMounts'];
  if (Array.isArray(mounts) && mounts.some((m) => isObject(m) && typeof m['name'] !== 'string')) add(`${at}.volumeMounts has an entry without a name`);
}

function toProblems(found: string[]): Problem[] {
  return found.map((text) => ({ code: 'invalid-pod', message: `${text}; podpattern cannot read this pod` }));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
