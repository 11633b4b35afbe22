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
//    protocol, may be added). What a container runs and with which privileges (image, command,
//    args, securityContext, whether it runs once or for the pod's life) and the rendered files
//    must be exactly what the template renders (likeness.ts). Such an object is ours or a
//    faithful copy of ours, so removing it takes away nothing anyone else put there. A
//    template the pod no longer asks for is rendered with any value standing for each parameter
//    the pod no longer sets, so its objects go with it.
// 2. When the template changed since (another hash), its old output cannot be rebuilt. An object
//    is then replaced only if the status names it, the current version of that template adds an
//    object of the same name, and the pod asks for the template again, so the object is swapped
//    for the template's new one, never just removed. Names come from templates, which operators
//    own: a pod author cannot point this at the app's container or another webhook's sidecar
//    unless an operator's template declares that very name, and then injecting it would clash
//    with that container anyway.
//
// Anything else the status names stays untouched; if it then clashes with what is injected,
// the pod is denied with the clash named. When the pod dropped a template, what the status
// names and stays is still recorded in the new status, with a warning (index.ts). A pod is "already injected" only when it holds every
// object the recorded templates add, each proven by rule 1: a status whose objects are absent
// means "not injected", and the pod is injected.
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from '#kube';
import { escapePathComponent, type Operation } from 'fast-json-patch';
import { compose, type Piece, type Placement } from './compose.js';
import { STATUS_KEY, parseTemplateKey } from '../model/keys.js';
import { ANY_TEXT, covers, sameContainer } from './likeness.js';
import { emptyStatus, type Status } from './status.js';
import type { PodLike } from './types.js';

type ContainerList = 'containers' | 'initContainers';

/** A container and the list it is in. */
interface Placed {
  container: V1Container;
  list: ContainerList;
}

/** Everything one set of templates adds to a pod, by name. */
interface Added {
  containers: Map<string, Placed>;
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
  const all: Placed[] = [...placed(pod.spec.containers.slice(1), 'containers'), ...placed(pod.spec.initContainers, 'initContainers')];
  return {
    containers: new Map(all.map((p) => [p.container.name, p])),
    volumes: new Map((pod.spec.volumes ?? []).map((v) => [v.name, v])),
    annotations: new Map(Object.entries(pod.metadata?.annotations ?? {})),
    env: new Map((app.env ?? []).map((e) => [e.name, e])),
    mounts: new Map((app.volumeMounts ?? []).map((m) => [m.mountPath, m])),
  };
}

function placed(containers: V1Container[] | undefined, list: ContainerList): Placed[] {
  return (containers ?? []).map((container) => ({ container, list }));
}

/** Names a status records, by the list they are recorded in. */
export type Recorded = Pick<Status, 'containers' | 'initContainers' | 'volumes' | 'annotations' | 'appEnv' | 'appVolumeMounts'>;

export interface Provenance {
  /** The pod holds every object the recorded templates add, each proven ours: nothing to do. */
  complete: boolean;
  /**
   * Operations that take out of the pod what the status names and podpattern can prove it
   * added, and the status itself; `left`: what the status names that stays in the pod.
   */
  stripping(): { ops: Operation[]; left: Recorded };
}

/**
 * `recorded`: what the status's templates add, rendered from the catalog where the hash still
 * matches (rule 1). `replaceable`: what the templates the pod asks for again add now (rule 2).
 */
export function provenance(
  pod: PodLike & { spec: V1PodSpec },
  status: Status,
  recorded: Added,
  replaceable: Added,
  recordedComplete: boolean,
): Provenance {
  const ours = <T>(name: string, object: T, kind: Exclude<keyof Added, 'containers'>, named: ReadonlySet<string>): boolean => {
    if (!named.has(name)) return false;
    const expected = (recorded[kind] as Map<string, unknown>).get(name);
    if (expected !== undefined && covers(expected, object)) return true;
    if (renderedWithAnyText(recorded[kind], name, object)) return true;
    return (replaceable[kind] as Map<string, unknown>).has(name);
  };
  const injectedNames = new Set([...status.containers, ...status.initContainers]);
  const ourContainer = (container: V1Container, list: ContainerList): boolean => {
    if (!injectedNames.has(container.name)) return false;
    const expected = recorded.containers.get(container.name);
    if (expected !== undefined && sameContainer(expected.container, expected.list, container, list)) return true;
    return replaceable.containers.has(container.name);
  };
  const named = namedSets(status);
  const annotations = pod.metadata?.annotations ?? {};
  const complete = recordedComplete && allRecordedPresent(pod, recorded, named.annotations);

  return {
    complete,
    stripping() {
      const spec = pod.spec;
      const ops: Operation[] = [];
      const left: Recorded = { containers: [], initContainers: [], volumes: [], annotations: [], appEnv: [], appVolumeMounts: [] };
      // Picks nothing for removal; notes a recorded name that stays in the pod.
      const keep = (list: string[], recordedNames: ReadonlySet<string>, name: string): false => {
        if (recordedNames.has(name) && !list.includes(name)) list.push(name);
        return false;
      };
      const containerKept = spec.containers.map((c) => !ourContainer(c, 'containers'));
      // Deepest first, by the original indexes, so every path is still valid when applied in order.
      spec.containers.forEach((container, i) => {
        if (!containerKept[i]) return;
        if (injectedNames.has(container.name)) left.containers.push(container.name);
        removals(
          ops,
          `/spec/containers/${i}/env`,
          container.env,
          (e) => ours(e.name, e, 'env', named.env) || keep(left.appEnv, named.env, e.name),
        );
        removals(
          ops,
          `/spec/containers/${i}/volumeMounts`,
          container.volumeMounts,
          (m) => ours(m.mountPath, m, 'mounts', named.mounts) || keep(left.appVolumeMounts, named.mounts, m.mountPath),
        );
      });
      removals(ops, '/spec/containers', spec.containers, (_c, i) => !containerKept[i], true);
      removals(
        ops,
        '/spec/initContainers',
        spec.initContainers,
        (c) => ourContainer(c, 'initContainers') || keep(left.initContainers, injectedNames, c.name),
      );
      removals(
        ops,
        '/spec/volumes',
        spec.volumes,
        (v) => ours(v.name, v, 'volumes', named.volumes) || keep(left.volumes, named.volumes, v.name),
      );
      for (const key of named.annotations) {
        if (!Object.hasOwn(annotations, key)) continue;
        if (ours(key, annotations[key], 'annotations', named.annotations))
          ops.push({ op: 'remove', path: `/metadata/annotations/${escapePathComponent(key)}` });
        else left.annotations.push(key);
      }
      if (Object.hasOwn(annotations, STATUS_KEY))
        ops.push({ op: 'remove', path: `/metadata/annotations/${escapePathComponent(STATUS_KEY)}` });
      return { ops, left };
    },
  };
}

/** The names the status records, by kind. */
function namedSets(status: Status) {
  return {
    volumes: new Set(status.volumes),
    annotations: new Set(status.annotations),
    env: new Set(status.appEnv),
    mounts: new Set(status.appVolumeMounts),
  };
}

/** Whether everything the status's templates add (as rendered now) is in the pod. */
function allRecordedPresent(pod: PodLike & { spec: V1PodSpec }, recorded: Added, namedAnnotations: ReadonlySet<string>): boolean {
  const annotations = pod.metadata?.annotations ?? {};
  const podContainers = [...placed(pod.spec.containers, 'containers'), ...placed(pod.spec.initContainers, 'initContainers')];
  const appContainers = pod.spec.containers.filter((c) => !recorded.containers.has(c.name));
  return (
    [...recorded.containers].every(([name, want]) =>
      podContainers.some((x) => x.container.name === name && sameContainer(want.container, want.list, x.container, x.list)),
    ) &&
    [...recorded.volumes].every(([name, v]) => (pod.spec.volumes ?? []).some((x) => x.name === name && covers(v, x))) &&
    // A template's pod annotation the pod set itself is kept as it is (and not recorded):
    // present is enough. A rendered file is always ours, recorded and exactly as rendered.
    [...recorded.annotations].every(
      ([key, value]) =>
        Object.hasOwn(annotations, key) &&
        ((!namedAnnotations.has(key) && parseTemplateKey(key)?.kind !== 'file') || covers(value, annotations[key])),
    ) &&
    // App wiring goes into every container that is not injected; a pod with none has none.
    (appContainers.length === 0 ||
      ([...recorded.env].every(([name, e]) => appContainers.some((c) => (c.env ?? []).some((x) => x.name === name && covers(e, x)))) &&
        [...recorded.mounts].every(([path, m]) =>
          appContainers.some((c) => (c.volumeMounts ?? []).some((x) => x.mountPath === path && covers(m, x))),
        )))
  );
}

/**
 * Whether an object of a dropped template, rendered with ANY_TEXT standing for a parameter the
 * pod no longer sets, is `object` under `name`: where that parameter named the object (the
 * mount path of git-sync's root in the app), the rendered name is a pattern, not the name.
 */
function renderedWithAnyText(added: Map<string, unknown>, name: string, object: unknown): boolean {
  for (const [key, expected] of added) if (key.includes(ANY_TEXT) && covers(key, name) && covers(expected, object)) return true;
  return false;
}

/**
 * Remove operations for the items of `list` that `remove` picks, last first; the whole list when
 * it picks them all (a pod's lists are absent rather than empty), unless the list is `required`
 * (spec.containers, which the templates then fill). Written out rather than
 * diffed: a diff of a list with an item taken from the middle rewrites every item after it, so
 * a pod could make the answer as large as its own spec.
 */
function removals<T>(
  ops: Operation[],
  path: string,
  list: T[] | undefined,
  remove: (item: T, index: number) => boolean,
  required = false,
): void {
  if (list === undefined) return;
  const picked = list.flatMap((item, i) => (remove(item, i) ? [i] : []));
  if (picked.length === 0) return;
  if (picked.length === list.length && !required) {
    ops.push({ op: 'remove', path });
    return;
  }
  for (const i of picked.reverse()) ops.push({ op: 'remove', path: `${path}/${i}` });
}
