// The rules a composed pod must keep, each a small named function (pod, pieces) -> problems, run
// in the order of RULES. The composition (compose.ts) only adds: where a name is already taken
// it leaves the pod's or the earlier template's object in place, and these rules find every
// piece whose object is not the one the pod ended up with and say why. The policy compiler
// (src/policy/checks.ts) writes the same rules, by the same names, as CEL.
import type { V1Container, V1PodSpec, V1Volume } from '#kube';
import type { Pattern, Template } from '../model/template.js';
import { parameterKey } from '../model/keys.js';
import { canonicalJson } from '../template/canonical.js';
import { listeningPorts } from '../template/listeners.js';
import { printable } from './bounds.js';
import type { Rendered, RenderedListener } from './render.js';
import type { Problem } from './types.js';

/** Where injected long-running containers may go in this pod, and why. */
export interface Placement {
  /** Native sidecars are available (init containers with restartPolicy: Always). */
  native: boolean;
  /** Why native sidecars are or are not available, for messages. */
  why: string;
  /** The pod is meant to finish (restartPolicy Never/OnFailure, a Job's template). */
  runsToCompletion: boolean;
  /** Volumes the pod's controller adds when it creates the pod. */
  controllerVolumes: string[];
}

export interface Piece {
  template: Template;
  pattern: Pattern;
  rendered: Rendered;
}

/**
 * The pod once every piece has been added, and who added what. Only what templates add is
 * kept, by template name: the pod's own containers, volumes, env vars and mounts are whatever
 * is not in these maps.
 */
export interface Composed {
  spec: V1PodSpec;
  annotations: Record<string, string>;
  placement: Placement;
  /** The app's containers are the first `appCount` of spec.containers: injected ones go after them. */
  appCount: number;
  containerTemplates: ReadonlyMap<string, string>;
  volumeTemplates: ReadonlyMap<string, string>;
  annotationTemplates: ReadonlyMap<string, string>;
  /** The template that added an env var or mount object to the app's containers. */
  wiringTemplate(object: object): string | undefined;
}

export type Rule = (pod: Composed, pieces: readonly Piece[]) => Problem[];

/** The rules, in the order their problems are listed. */
export const RULES = {
  annotations: clashingAnnotations,
  volumes: clashingVolumes,
  initContainerNames: clashingInitContainers,
  hostNetwork: listeningOnHostNetwork,
  nativeSidecars: needingNativeSidecars,
  containerNames: clashingContainers,
  appEnv: clashingAppEnv,
  appMounts: clashingAppMounts,
  ports: clashingPorts,
  missingVolumes: missingVolumes,
} satisfies Record<string, Rule>;

export type RuleName = keyof typeof RULES;

/**
 * In a pod that runs to completion every long-running helper must be a native sidecar, or the
 * pod never finishes: without native sidecars a template with containers cannot be placed.
 */
export function placeable({ rendered }: Piece, placement: Placement): boolean {
  return !(placement.runsToCompletion && !placement.native && rendered.containers.length > 0);
}

/** An annotation two templates set to different values (the pod's own value is kept, with a warning). */
function clashingAnnotations(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const problems: Problem[] = [];
  for (const { template, rendered } of pieces) {
    for (const key in rendered.podAnnotations) {
      const value = rendered.podAnnotations[key] as string;
      const owner = pod.annotationTemplates.get(key);
      if (owner === undefined || owner === template.name || pod.annotations[key] === value) continue;
      problems.push(
        clash(
          'clash-annotation',
          template,
          `annotation ${key}: template ${template.name} sets '${printable(value)}' but template ${owner} sets '${printable(pod.annotations[key] ?? '')}'`,
        ),
      );
    }
  }
  return problems;
}

/** Two parties may share a volume only if they describe it identically. */
function clashingVolumes(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const problems: Problem[] = [];
  for (const { template, rendered } of pieces) {
    const { files } = template.compiled;
    const names = rendered.volumes.map((volume) => volume.name);
    if (files.keys.length > 0) names.push(files.volume);
    names.forEach((name, i) => {
      const owner = pod.volumeTemplates.get(name);
      if (owner === template.name) return;
      const volume = rendered.volumes[i] ?? filesVolumeOf(files);
      const kept = named(pod.spec.volumes, name);
      if (kept === undefined || canonicalJson(kept) === canonicalJson(volume)) return;
      problems.push(
        clash(
          'clash-volume',
          template,
          `volume '${name}': template ${template.name} declares it differently from ${owner === undefined ? `the pod's volume '${printable(name)}'` : `template ${owner}`}`,
        ),
      );
    });
  }
  return problems;
}

function clashingInitContainers(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const problems: Problem[] = [];
  for (const { template, rendered } of pieces)
    for (const container of rendered.initContainers) containerClash(pod, template, container, problems);
  return problems;
}

function clashingContainers(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const problems: Problem[] = [];
  for (const piece of pieces) {
    if (placeable(piece, pod.placement))
      for (const container of piece.rendered.containers) containerClash(pod, piece.template, container, problems);
  }
  return problems;
}

/** A container of the template that is not in the pod because another of its name is. */
function containerClash(pod: Composed, template: Template, container: V1Container, problems: Problem[]): void {
  const kept = named(pod.spec.containers, container.name) ?? named(pod.spec.initContainers, container.name);
  if (kept === container) return;
  problems.push(
    clash(
      'clash-container',
      template,
      `container name '${container.name}': template ${template.name} adds a container of that name, and so does ${containerOwner(pod, container.name)}`,
    ),
  );
}

/**
 * With hostNetwork the pod's ports are the node's: a helper that listens would take a port on
 * every node the pod lands on (and clash with the same pod's other replicas). Templates that
 * listen are refused there; templates that do not (git-sync, log shippers) are fine.
 */
function listeningOnHostNetwork(pod: Composed, pieces: readonly Piece[]): Problem[] {
  if (pod.spec.hostNetwork !== true) return [];
  const refusal = 'podpattern does not inject templates that listen into host-network pods: drop hostNetwork or this template';
  const problems: Problem[] = [];
  for (const { template, rendered } of pieces) {
    for (const container of rendered.initContainers.concat(rendered.containers)) {
      const ports = listeningPorts(container);
      if (ports.length === 0) continue;
      problems.push(
        clash(
          'host-network',
          template,
          `the pod uses hostNetwork: true, and template ${template.name}'s container '${container.name}' listens (${ports.join(', ')}), which would bind that port on the node itself; ${refusal}`,
        ),
      );
    }
    const local = rendered.listeners;
    if (local.length === 0) continue;
    const where = local[0]?.where;
    problems.push(
      clash(
        'host-network',
        template,
        `the pod uses hostNetwork: true, and template ${template.name} listens on 127.0.0.1:${local.map((l) => l.port).join(', 127.0.0.1:')} (${where}), which would be the node's own loopback, shared with every host-network pod on the node; ${refusal}`,
      ),
    );
  }
  return problems;
}

function needingNativeSidecars(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const { placement, spec } = pod;
  return pieces
    .filter((piece) => !placeable(piece, placement))
    .map(({ template, rendered }) => {
      const names = rendered.containers.map((c) => `'${c.name}'`).join(', ');
      const finishes = spec.restartPolicy === undefined ? "a Job's pod" : `restartPolicy: ${spec.restartPolicy}`;
      const what = `the long-running container${rendered.containers.length === 1 ? '' : 's'} ${names}`;
      return clash(
        'needs-native-sidecars',
        template,
        `the pod runs to completion (${finishes}), and template ${template.name} adds ${what}, which would keep it from ever finishing unless made native sidecars; but ${placement.why}`,
      );
    });
}

/** An env var the template sets in the app's containers where another is set differently. */
function clashingAppEnv(pod: Composed, pieces: readonly Piece[]): Problem[] {
  return wiringClashes(
    pod,
    pieces,
    (rendered) => rendered.app.env,
    (container, env) => container.env?.find((e) => e.name === env.name),
    (template, container, env, kept) => {
      const owner = wiringOwner(pod, kept) ?? "the pod's own env var";
      return clash(
        'clash-env',
        template,
        `env var ${env.name} in container '${printable(container.name)}': template ${template.name} sets ${describeEnv(env)} but ${owner} has ${describeEnv(kept)}`,
      );
    },
  );
}

/** A mount path the template mounts in the app's containers where something else is mounted. */
function clashingAppMounts(pod: Composed, pieces: readonly Piece[]): Problem[] {
  return wiringClashes(
    pod,
    pieces,
    (rendered) => rendered.app.volumeMounts,
    (container, mount) => container.volumeMounts?.find((m) => m.mountPath === mount.mountPath),
    (template, container, mount, kept) => {
      const owner = wiringOwner(pod, kept) ?? `the pod's own mount of volume '${printable(kept.name)}'`;
      return clash(
        'clash-volume',
        template,
        `mount path ${printable(mount.mountPath)} in container '${printable(container.name)}': template ${template.name} mounts volume '${mount.name}' there, but ${owner} is already there`,
      );
    },
  );
}

/** Each item a placed template wires into each app container where the container kept a different one. */
function wiringClashes<T extends object>(
  pod: Composed,
  pieces: readonly Piece[],
  items: (rendered: Rendered) => T[] | undefined,
  keptFor: (container: V1Container, item: T) => T | undefined,
  problem: (template: Template, container: V1Container, item: T, kept: T) => Problem,
): Problem[] {
  const problems: Problem[] = [];
  for (const piece of pieces) {
    if (!placeable(piece, pod.placement)) continue;
    for (let i = 0; i < pod.appCount; i += 1) {
      const container = pod.spec.containers[i] as V1Container;
      for (const item of items(piece.rendered) ?? []) {
        const kept = keptFor(container, item);
        if (kept !== undefined && kept !== item && canonicalJson(kept) !== canonicalJson(item))
          problems.push(problem(piece.template, container, item, kept));
      }
    }
  }
  return problems;
}

/** A port some container holds: the parameter that sets it, when a template's parameter does. */
interface PortClaim {
  container: string;
  port: number | string | boolean;
  parameter: string | undefined;
}

/**
 * Containers of a pod share one network namespace, so two cannot listen on one port.
 * Loopback-only listeners declare no containerPort (nothing outside the pod may reach them),
 * but they take a port of the pod's network all the same: the template's first long-running
 * container is taken as the one holding them. Two of the pod's own containers on one port are
 * the pod's business, not a clash of ours.
 */
function clashingPorts(pod: Composed, pieces: readonly Piece[]): Problem[] {
  const loopback = new Map<string, RenderedListener[]>(); // holder -> its listeners
  for (const { rendered } of pieces) {
    const holder = rendered.containers[0]?.name ?? rendered.initContainers[0]?.name;
    if (holder !== undefined && rendered.listeners.length > 0) loopback.set(holder, rendered.listeners);
  }
  const seen = new Map<string, PortClaim>(); // port/protocol -> who holds it
  const problems: Problem[] = [];
  const claim = (key: string, held: PortClaim): void => {
    const previous = seen.get(key);
    seen.set(key, held);
    if (previous === undefined) return;
    const ours = pod.containerTemplates.has(held.container) ? held : pod.containerTemplates.has(previous.container) ? previous : undefined;
    if (ours === undefined) return;
    const owner = pod.containerTemplates.get(ours.container) as string;
    const message = `port ${printable(key)}: ${containerOwner(pod, held.container)} listens on it, and so does ${containerOwner(pod, previous.container)}${portHint(owner, ours)}`;
    problems.push({ code: 'clash-port', template: owner, message });
  };
  const claimAll = (container: V1Container): void => {
    const template = pod.containerTemplates.get(container.name);
    const parameters =
      template === undefined
        ? undefined
        : pieces.find((p) => p.template.name === template)?.template.compiled.portParameters[container.name];
    (container.ports ?? []).forEach((port, i) => {
      claim(`${port.containerPort}/${port.protocol ?? 'TCP'}`, {
        container: container.name,
        port: port.containerPort,
        parameter: parameters?.[i],
      });
    });
    for (const l of loopback.get(container.name) ?? [])
      claim(`${l.port}/TCP`, { container: container.name, port: l.port, parameter: l.parameter });
  };
  for (const container of pod.spec.initContainers ?? []) if (container.restartPolicy === 'Always') claimAll(container);
  for (const container of pod.spec.containers) claimAll(container);
  return problems;
}

/** Names the parameter that moves the clashing port, from the template's compiled form. */
function portHint(template: string, claim: PortClaim): string {
  if (claim.parameter === undefined)
    return `; template ${template} does not let a pod move container port ${claim.port}, so these two cannot share a pod`;
  return `; set ${parameterKey(template, claim.parameter)} to a free port (it is ${claim.port})`;
}

/** A mount of a volume the pod does not have: the injected containers first, then the app's. */
function missingVolumes(pod: Composed): Problem[] {
  const volumes = new Set(pod.placement.controllerVolumes);
  for (const volume of pod.spec.volumes ?? []) volumes.add(volume.name);
  const problems: Problem[] = [];
  const check = (container: V1Container): void => {
    for (const mount of container.volumeMounts ?? []) {
      if (volumes.has(mount.name)) continue;
      const message = `${containerOwner(pod, container.name)} mounts volume '${printable(mount.name)}', which the pod does not have; add the volume or set the template parameter that names it`;
      problems.push({ code: 'missing-volume', message });
    }
  };
  for (const container of pod.spec.containers) if (pod.containerTemplates.has(container.name)) check(container);
  for (const container of pod.spec.initContainers ?? []) if (pod.containerTemplates.has(container.name)) check(container);
  for (let i = 0; i < pod.appCount; i += 1) check(pod.spec.containers[i] as V1Container);
  return problems;
}

function clash(code: Problem['code'], template: Template, message: string): Problem {
  return { code, template: template.name, message };
}

/** How messages name a container: "the pod's container 'app'" or "template https-proxy's container 'https-proxy'". */
export function containerOwner(pod: Composed, name: string): string {
  const template = pod.containerTemplates.get(name);
  return template === undefined ? `the pod's container '${printable(name)}'` : `template ${template}'s container '${name}'`;
}

function wiringOwner(pod: Composed, added: object): string | undefined {
  const template = pod.wiringTemplate(added);
  return template === undefined ? undefined : `template ${template}`;
}

/** A new volume object for every pod: what goes into a pod is never shared. */
export function filesVolumeOf(files: Template['compiled']['files']): V1Volume {
  return { name: files.volume, downwardAPI: { items: files.items.map(({ path, fieldPath }) => ({ path, fieldRef: { fieldPath } })) } };
}

/** The item of `list` named `name`. */
export function named<T extends { name: string }>(list: T[] | undefined, name: string): T | undefined {
  return list?.find((item) => item.name === name);
}

function describeEnv(env: { value?: string; valueFrom?: unknown }): string {
  return env.value !== undefined ? `'${printable(String(env.value))}'` : 'a valueFrom reference';
}
