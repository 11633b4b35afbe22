// What podpattern may take out of a pod that carries a podpattern.dev/status, and whether the
// pod is already injected.
//
// The status annotation is only a claim: a pod author can write any annotation, so a status
// can name the app's own container, or a sidecar another webhook added (a mesh proxy, a
// security agent), or name the right templates while the containers are absent. Trusting it
// let a pod author delete another webhook's mandatory sidecar, and skip injection. Nothing in a
// pod can carry a mark only podpattern writes, so the proof is in the content:
//
// 1. An object is ours when it still holds everything the recorded template would add: the
//    template in the catalog has the recorded hash (so it is the same spec), and rendering it
//    with the pod's parameter annotations gives an object that the pod's object covers (every
//    field we would set, with the same value; fields the API server defaults, such as a port's
//    protocol, may be added). Such an object is ours or a faithful copy of ours, so removing it
//    takes away nothing anyone else put there.
// 2. When the template changed since (another hash), its old output cannot be rebuilt. An object
//    is then replaced only if the status names it, the current version of that template adds an
//    object of the same name, and the pod asks for the template again, so the object is swapped
//    for the template's new one, never just removed. Names come from templates, which operators
//    own: a pod author cannot point this at the app's container or another webhook's sidecar
//    unless an operator's template declares that very name, and then injecting it would clash
//    with that container anyway.
//
// Anything else the status names stays untouched; if it then clashes with what is injected,
// the pod is denied with the clash named. A pod is "already injected" only when it holds every
// object the recorded templates add, each proven by rule 1: a status whose objects are absent
// means "not injected", and the pod is injected.
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { escapePathComponent, type Operation } from 'fast-json-patch';
import { compose, type Piece, type Placement } from './compose.js';
import { STATUS_KEY } from '../model/keys.js';
import { emptyStatus, type Status } from './status.js';
import type { PodLike } from './types.js';

/** Everything one set of templates adds to a pod, by name. */
interface Added {
  containers: Map<string, V1Container>;
  volumes: Map<string, V1Volume>;
  annotations: Map<string, string>;
  env: Map<string, V1EnvVar>;
  mounts: Map<string, V1VolumeMount>;
}

/** A name no Kubernetes container can have: stands for the app's containers when rendering alone. */
const APP = '\u0000app';

/** What `pieces` add to a pod, rendered onto an empty one (with one stand-in app container). */
export function addedBy(pieces: Piece[], placement: Placement): Added {
  const pod: PodLike & { spec: V1PodSpec } = { metadata: { annotations: {} }, spec: { containers: [{ name: APP }] } };
  compose(pod, pieces, emptyStatus([]), placement);
  const app = pod.spec.containers[0] as V1Container;
  const all = [...pod.spec.containers.slice(1), ...(pod.spec.initContainers ?? [])];
  return {
    containers: new Map(all.map((c) => [c.name, c])),
    volumes: new Map((pod.spec.volumes ?? []).map((v) => [v.name, v])),
    annotations: new Map(Object.entries(pod.metadata?.annotations ?? {})),
    env: new Map((app.env ?? []).map((e) => [e.name, e])),
    mounts: new Map((app.volumeMounts ?? []).map((m) => [m.mountPath, m])),
  };
}

export interface Provenance {
  /** The pod holds every object the recorded templates add, each proven ours: nothing to do. */
  complete: boolean;
  /** Operations that take out of the pod what the status names and podpattern can prove it added, and the status itself. */
  stripping(): Operation[];
}

/**
 * `recorded`: what the status's templates add, rendered from the catalog where the hash still
 * matches (rule 1). `replaceable`: what the templates the pod asks for again add now (rule 2).
 */
export function provenance(pod: PodLike & { spec: V1PodSpec }, status: Status, recorded: Added, replaceable: Added, recordedComplete: boolean): Provenance {
  const ours = <T>(name: string, object: T, kind: keyof Added, named: ReadonlySet<string>): boolean => {
    if (!named.has(name)) return false;
    const expected = (recorded[kind] as Map<string, unknown>).get(name);
    if (expected !== undefined && covers(expected, object)) return true;
    return (replaceable[kind] as Map<string, unknown>).has(name);
  };
  const injectedNames = new Set([...status.containers, ...status.initContainers]);
  const named = {
    volumes: new Set(status.volumes),
    annotations: new Set(status.annotations),
    env: new Set(status.appEnv),
    mounts: new Set(status.appVolumeMounts),
  };
  const annotations = pod.metadata?.annotations ?? {};
  const appContainers = pod.spec.containers.filter((c) => !recorded.containers.has(c.name));
  const complete =
    recordedComplete &&
    [...recorded.containers].every(([name, c]) => [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((x) => x.name === name && covers(c, x))) &&
    [...recorded.volumes].every(([name, v]) => (pod.spec.volumes ?? []).some((x) => x.name === name && covers(v, x))) &&
    // An annotation the pod set itself is kept as it is (and not recorded): present is enough.
    [...recorded.annotations].every(([key, value]) => Object.hasOwn(annotations, key) && (!named.annotations.has(key) || covers(value, annotations[key]))) &&
    // App wiring goes into every container that is not injected; a pod with none has none.
    (appContainers.length === 0 ||
      ([...recorded.env].every(([name, e]) => appContainers.some((c) => (c.env ?? []).some((x) => x.name === name && covers(e, x)))) &&
        [...recorded.mounts].every(([path, m]) => appContainers.some((c) => (c.volumeMounts ?? []).some((x) => x.mountPath === path && covers(m, x))))));

  return {
    complete,
    stripping() {
      const spec = pod.spec;
      const ops: Operation[] = [];
      const containerKept = spec.containers.map((c) => !ours(c.name, c, 'containers', injectedNames));
      // Deepest first, by the original indexes, so every path is still valid when applied in order.
      spec.containers.forEach((container, i) => {
        if (!containerKept[i]) return;
        removals(ops, `/spec/containers/${i}/env`, container.env, (e) => ours(e.name, e, 'env', named.env));
        removals(ops, `/spec/containers/${i}/volumeMounts`, container.volumeMounts, (m) => ours(m.mountPath, m, 'mounts', named.mounts));
      });
      removals(ops, '/spec/containers', spec.containers, (_c, i) => !containerKept[i], true);
      removals(ops, '/spec/initContainers', spec.initContainers, (c) => ours(c.name, c, 'containers', injectedNames));
      removals(ops, '/spec/volumes', spec.volumes, (v) => ours(v.name, v, 'volumes', named.volumes));
      for (const key of named.annotations) {
        if (Object.hasOwn(annotations, key) && ours(key, annotations[key], 'annotations', named.annotations)) ops.push({ op: 'remove', path: `/metadata/annotations/${escapePathComponent(key)}` });
      }
      if (Object.hasOwn(annotations, STATUS_KEY)) ops.push({ op: 'remove', path: `/metadata/annotations/${escapePathComponent(STATUS_KEY)}` });
      return ops;
    },
  };
}

/**
 * Remove operations for the items of `list` that `remove` picks, last first; the whole list when
 * it picks them all (a pod's lists are absent rather than empty), unless the list is `required`
 * (spec.containers, which the templates then fill). Written out rather than
 * diffed: a diff of a list with an item taken from the middle rewrites every item after it, so
 * a pod could make the answer as large as its own spec.
 */
function removals<T>(ops: Operation[], path: string, list: T[] | undefined, remove: (item: T, index: number) => boolean, required = false): void {
  if (list === undefined) return;
  const picked = list.flatMap((item, i) => (remove(item, i) ? [i] : []));
  if (picked.length === 0) return;
  if (picked.length === list.length && !required) {
    ops.push({ op: 'remove', path });
    return;
  }
  for (const i of picked.reverse()) ops.push({ op: 'remove', path: `${path}/${i}` });
}

/**
 * Fields that may differ between what we rendered and what the API server stored without the
 * object being someone else's: quantities are rewritten to canonical form ("0.5" -> "500m"),
 * and whether a sidecar is a native one (restartPolicy) follows the server's version.
 */
const LOOSE = new Set(['resources', 'restartPolicy', 'sizeLimit']);

/**
 * Rendered in place of $(pod.name) and $(pod.namespace) when rebuilding what a status records:
 * the pod's name at injection time is not known later (a workload injected offline named its pod
 * template after the workload; the API server names its pods after the ReplicaSet), so any text
 * stands in for it.
 */
export const ANY_TEXT = '\u0000any\u0000';

/**
 * Whether `actual` holds every field of `expected` with the same value (it may hold more), and
 * every item of an expected list, in order (it may hold more items): the API server's own
 * mutating plugins add to what we injected (the ServiceAccount plugin mounts its token into
 * every container, ours too) and then reinvoke us, and such an addition must not make our
 * container look like someone else's, or every reinvocation would inject again.
 */
export function covers(expected: unknown, actual: unknown): boolean {
  if (expected === undefined) return true;
  if (actual === undefined && isEmptyValue(expected)) return true;
  if (typeof expected === 'string' && expected.includes(ANY_TEXT)) return typeof actual === 'string' && matchesWithGaps(expected.split(ANY_TEXT), actual);
  if (Array.isArray(expected)) return Array.isArray(actual) && coversInOrder(expected, actual);
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([key, value]) => {
      const held = (actual as Record<string, unknown>)[key];
      return LOOSE.has(key) || (value === false && held === undefined && OMITTED_FALSE.has(key)) || covers(value, held);
    });
  }
  return expected === actual;
}

/**
 * Values the API server stores as absent: its Go types omit an empty string and an empty list
 * or map (`omitempty`), so an env var we render with an empty value, or `args: []`, comes back
 * without the field. Absent and empty mean the same to Kubernetes.
 */
function isEmptyValue(value: unknown): boolean {
  if (value === '' || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * The container fields whose `false` the API server omits (plain Go bools with `omitempty`).
 * Every other bool of a container is a pointer, stored as written: `allowPrivilegeEscalation:
 * false` must still be there for a container to be ours.
 */
const OMITTED_FALSE = new Set(['readOnly', 'stdin', 'stdinOnce', 'tty']);

/** Whether each item of `expected` is covered by an item of `actual`, in order, with any items between. */
function coversInOrder(expected: unknown[], actual: unknown[]): boolean {
  let at = 0;
  for (const item of expected) {
    while (at < actual.length && !covers(item, actual[at])) at += 1;
    if (at === actual.length) return false;
    at += 1;
  }
  return true;
}

/**
 * Whether `text` is parts[0] + anything + parts[1] + … + parts[n]: the first part a prefix, the
 * last a suffix, each middle one found leftmost after the previous. Linear in the text.
 */
function matchesWithGaps(parts: string[], text: string): boolean {
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}
