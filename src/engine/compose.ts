// Adds rendered templates to a pod, in the order given, and finds every clash:
// container names, ports, volumes, env vars, mount paths and annotations. Mutates the pod
// it is given (the engine hands it an editable copy, patch.ts); the caller diffs the result for the patch.
import type { V1Container, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import { startsBeforeApp, type Pattern, type Template } from '../model/template.js';
import { canonicalJson } from '../catalog/canonical.js';
import { MAX_PROBLEMS, printable } from './bounds.js';
import { fileKey, filesVolumeName, parameterKey } from '../model/keys.js';
import type { Rendered } from './render.js';
import { editableContainer } from './patch.js';
import type { Status } from './status.js';
import type { PodLike, Problem } from './types.js';
import { listeningPorts, portParameter } from '../catalog/listening.js';
import { loopbackListeners, type Listener } from '../catalog/probes.js';

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
 * What a container gets when its template says nothing: a securityContext that passes Pod
 * Security "restricted" (Kubernetes docs, "Pod Security Standards") and modest resources.
 */
function restricted(): NonNullable<V1Container['securityContext']> {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
}
function defaultResources(): NonNullable<V1Container['resources']> {
  return { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } };
}

// Who added what is kept only for what templates add, by template name: the pod's own
// containers, volumes, env vars and mounts are whatever is not in these maps, and the owner
// phrases of messages ("the pod's container 'app'", "template https-proxy") are built only
// when a message needs one. A typical pod composes without a clash, so it builds none.
class Composition {
  readonly problems: Problem[] = [];
  problemCount = 0;
  readonly warnings: string[] = [];
  private readonly spec: V1PodSpec;
  private readonly annotations: Record<string, string>;
  /** The app's containers are the first `appCount` of spec.containers: injected ones go after them. */
  private readonly appCount: number;
  /** The template that added each injected container; pod containers are absent. */
  private readonly containerTemplates = new Map<string, string>();
  /** The template that added each injected volume; the pod's own volumes are absent. */
  private readonly volumeTemplates = new Map<string, string>();
  /** The template that set each pod annotation a template set. */
  private readonly annotationTemplates = new Map<string, string>();
  /** The template that added each env var or mount object to the app's containers; the rest are the pod's own. Made when a template first wires the app. */
  private appWiring: Map<object, string> | undefined;
  private readonly pieces: Piece[] = [];
  /** The app's containers already copied by editableApp. */
  private readonly editedApps: V1Container[] = [];

  constructor(
    pod: PodLike,
    private readonly status: Status,
    private readonly placement: Placement,
  ) {
    this.spec = pod.spec as V1PodSpec;
    pod.metadata ??= {};
    this.annotations = pod.metadata.annotations ??= {};
    this.appCount = this.spec.containers.length;
  }

  add(piece: Piece): void {
    const { template, rendered } = piece;
    this.pieces.push(piece);
    this.addAnnotations(piece);
    for (const volume of rendered.volumes) this.addVolume(volume, template.name);
    const files = templateFiles(template);
    if (files.keys.length > 0) this.addVolume(volumeOf(files), template.name);
    for (const container of rendered.initContainers) this.addContainer(setDefaults(container), 'initContainers', template.name);
    this.checkHostNetwork(piece);
    // In a pod that runs to completion every long-running helper must be a native sidecar,
    // or the pod never finishes; elsewhere those that must be Ready before the app starts are.
    const first = startsBeforeApp(template.spec, piece.pattern);
    const nativeSidecar = this.placement.native && (first || this.placement.runsToCompletion);
    if (first && !this.placement.native && rendered.containers.length > 0) this.warnings.push(`template ${template.name}'s ${rendered.containers.map((c) => `'${c.name}'`).join(', ')} should be Ready before the app starts, but ${this.placement.why}: they start beside the app's containers, and the app may start first (the order is not held)`);
    if (this.placement.runsToCompletion && !this.placement.native && rendered.containers.length > 0) {
      const names = rendered.containers.map((c) => `'${c.name}'`).join(', ');
      this.clash(
        'needs-native-sidecars',
        template.name,
        `the pod runs to completion (${this.spec.restartPolicy === undefined ? "a Job's pod" : `restartPolicy: ${this.spec.restartPolicy}`}), and template ${template.name} adds the long-running container${rendered.containers.length === 1 ? '' : 's'} ${names}, which would keep it from ever finishing unless made native sidecars; but ${this.placement.why}`,
      );
      return;
    }
    for (const container of rendered.containers) {
      // The render's own object: made a native sidecar in place (its key order as a copy would have it).
      const prepared = setDefaults(container);
      if (nativeSidecar) prepared.restartPolicy = 'Always';
      this.addContainer(prepared, nativeSidecar ? 'initContainers' : 'containers', template.name);
    }
    this.wireApp(piece);
  }

  finish(): void {
    this.checkPorts();
    this.checkMounts();
  }

  private addAnnotations({ template, rendered }: Piece): void {
    const files = templateFiles(template);
    for (let i = 0; i < files.keys.length; i += 1) {
      const key = files.keys[i] as string;
      this.annotations[key] = rendered.files[files.names[i] as string] as string;
      this.status.annotations.push(key);
    }
    for (const key in rendered.podAnnotations) {
      const value = rendered.podAnnotations[key] as string;
      const previous = this.annotationTemplates.get(key);
      if (previous !== undefined && this.annotations[key] !== value) {
        this.clash('clash-annotation', template.name, `annotation ${key}: template ${template.name} sets '${printable(value)}' but template ${previous} sets '${printable(this.annotations[key] ?? '')}'`);
      } else if (previous === undefined && this.annotations[key] !== undefined) {
        if (this.annotations[key] !== value) this.warnings.push(`annotation ${key} is kept as the pod sets it ('${printable(this.annotations[key] ?? '')}'); template ${template.name} would set '${printable(value)}'`);
      } else {
        this.annotations[key] = value;
        this.annotationTemplates.set(key, template.name);
        this.status.annotations.push(key);
      }
    }
  }

  private addVolume(volume: V1Volume, template: string): void {
    const existing = named(this.spec.volumes, volume.name);
    if (existing !== undefined) {
      // Two parties may share a volume only if they describe it identically.
      if (canonicalJson(existing) !== canonicalJson(volume)) {
        const other = this.volumeTemplates.get(volume.name);
        this.clash('clash-volume', template, `volume '${volume.name}': template ${template} declares it differently from ${other === undefined ? `the pod's volume '${printable(volume.name)}'` : `template ${other}`}`);
      }
      return;
    }
    (this.spec.volumes ??= []).push(volume);
    this.volumeTemplates.set(volume.name, template);
    this.status.volumes.push(volume.name);
  }

  private addContainer(container: V1Container, list: 'containers' | 'initContainers', template: string): void {
    if (this.containerTemplates.has(container.name) || this.podHasContainer(container.name)) {
      this.clash('clash-container', template, `container name '${container.name}': template ${template} adds a container of that name, and so does ${this.containerOwner(container.name)}`);
      return;
    }
    this.containerTemplates.set(container.name, template);
    if (list === 'containers') this.spec.containers.push(container);
    else (this.spec.initContainers ??= []).push(container);
    this.status[list].push(container.name);
    if (list === 'initContainers' && container.restartPolicy === 'Always') this.status.sidecars.push(container.name);
    for (const grant of grantsOf(container)) if (!this.status.grants.includes(grant)) this.status.grants.push(grant);
  }

  private podHasContainer(name: string): boolean {
    return named(this.spec.containers, name) !== undefined || named(this.spec.initContainers, name) !== undefined;
  }

  /** How messages name a container: "the pod's container 'app'" or "template https-proxy's container 'https-proxy'". */
  private containerOwner(name: string): string {
    const template = this.containerTemplates.get(name);
    return template === undefined ? `the pod's container '${printable(name)}'` : `template ${template}'s container '${name}'`;
  }

  private wireApp({ template, rendered }: Piece): void {
    for (let i = 0; i < this.appCount; i += 1) {
      for (const env of rendered.app.env ?? []) {
        const container = this.spec.containers[i] as V1Container;
        const current = (container.env ?? []).find((e) => e.name === env.name);
        if (current === undefined) {
          (this.editableApp(i).env ??= []).push(env);
          (this.appWiring ??= new Map()).set(env, template.name);
          if (!this.status.appEnv.includes(env.name)) this.status.appEnv.push(env.name);
        } else if (canonicalJson(current) !== canonicalJson(env)) {
          this.clash('clash-env', template.name, `env var ${env.name} in container '${printable(container.name)}': template ${template.name} sets ${describeEnv(env)} but ${this.wiringOwner(current) ?? "the pod's own env var"} has ${describeEnv(current)}`);
        }
      }
      for (const mount of rendered.app.volumeMounts ?? []) {
        const container = this.spec.containers[i] as V1Container;
        const current = (container.volumeMounts ?? []).find((m) => m.mountPath === mount.mountPath);
        if (current === undefined) {
          (this.editableApp(i).volumeMounts ??= []).push(mount);
          (this.appWiring ??= new Map()).set(mount, template.name);
          if (!this.status.appVolumeMounts.includes(mount.mountPath)) this.status.appVolumeMounts.push(mount.mountPath);
        } else if (canonicalJson(current) !== canonicalJson(mount)) {
          this.clash('clash-volume', template.name, `mount path ${printable(mount.mountPath)} in container '${printable(container.name)}': template ${template.name} mounts volume '${mount.name}' there, but ${this.wiringOwner(current) ?? `the pod's own mount of volume '${printable(current.name)}'`} is already there`);
        }
      }
    }
  }

  private wiringOwner(added: object): string | undefined {
    const template = this.appWiring?.get(added);
    return template === undefined ? undefined : `template ${template}`;
  }

  /**
   * The app's container at `i`, made the composition's own (a copy with its own env and
   * volumeMounts lists, in place of the pod's) the first time a template adds to it: the pod's
   * container is never edited, and a container nothing is added to stays the pod's object,
   * which the diff then skips whole.
   */
  private editableApp(i: number): V1Container {
    const container = this.spec.containers[i] as V1Container;
    if (this.editedApps.includes(container)) return container;
    const copy = editableContainer(container);
    this.editedApps.push(copy);
    this.spec.containers[i] = copy;
    return copy;
  }

  /**
   * With hostNetwork the pod's ports are the node's: a helper that listens would take a port
   * on every node the pod lands on (and clash with the same pod's other replicas). Templates
   * that listen are refused there; templates that do not (git-sync, log shippers) are fine.
   */
  private checkHostNetwork({ template, rendered }: Piece): void {
    if (this.spec.hostNetwork !== true) return;
    for (const container of rendered.initContainers.concat(rendered.containers)) {
      const ports = listeningPorts(container);
      if (ports.length === 0) continue;
      this.clash(
        'host-network',
        template.name,
        `the pod uses hostNetwork: true, and template ${template.name}'s container '${container.name}' listens (${ports.join(', ')}), which would bind that port on the node itself; podpattern does not inject templates that listen into host-network pods: drop hostNetwork or this template`,
      );
    }
    const local = loopbackListeners(rendered);
    if (local.length > 0) {
      this.clash(
        'host-network',
        template.name,
        `the pod uses hostNetwork: true, and template ${template.name} listens on 127.0.0.1:${local.map((l) => l.port).join(', 127.0.0.1:')} (${local[0]!.where}), which would be the node's own loopback, shared with every host-network pod on the node; podpattern does not inject templates that listen into host-network pods: drop hostNetwork or this template`,
      );
    }
  }

  /**
   * Containers of a pod share one network namespace, so two cannot listen on one port.
   * Loopback-only listeners declare no containerPort (nothing outside the pod may reach them),
   * but they take a port of the pod's network all the same: the template's first long-running
   * container is taken as the one holding them.
   */
  private checkPorts(): void {
    const seen = new Map<string, string>(); // port/protocol -> container name
    const loopback: { holder: string; listeners: Listener[] }[] = [];
    for (const { rendered } of this.pieces) {
      const holder = rendered.containers[0]?.name ?? rendered.initContainers[0]?.name;
      const listeners = holder === undefined ? [] : loopbackListeners(rendered);
      if (holder !== undefined && listeners.length > 0) loopback.push({ holder, listeners });
    }
    for (const container of this.spec.initContainers ?? []) {
      if (container.restartPolicy === 'Always') this.checkPortsOf(container, seen, loopback);
    }
    for (const container of this.spec.containers) this.checkPortsOf(container, seen, loopback);
  }

  private checkPortsOf(container: V1Container, seen: Map<string, string>, loopback: { holder: string; listeners: Listener[] }[]): void {
    for (const port of container.ports ?? []) this.claimPort(`${port.containerPort}/${port.protocol ?? 'TCP'}`, container.name, seen);
    for (const { holder, listeners } of loopback) {
      if (holder === container.name) for (const l of listeners) this.claimPort(`${l.port}/TCP`, container.name, seen);
    }
  }

  private claimPort(key: string, container: string, seen: Map<string, string>): void {
    const previous = seen.get(key);
    // Two of the pod's own containers on one port are the pod's business, not a clash of ours.
    const template = this.containerTemplates.get(container) ?? (previous === undefined ? undefined : this.containerTemplates.get(previous));
    if (previous !== undefined && template !== undefined) {
      this.clash('clash-port', template, `port ${printable(key)}: ${this.containerOwner(container)} listens on it, and so does ${this.containerOwner(previous)}${this.portHint(template, this.containerTemplates.has(container) ? container : previous, key)}`);
    }
    seen.set(key, container);
  }

  private checkMounts(): void {
    const volumes = new Set(this.placement.controllerVolumes);
    for (const volume of this.spec.volumes ?? []) volumes.add(volume.name);
    // The injected containers first, then the app's.
    for (const container of this.spec.containers) if (this.containerTemplates.has(container.name)) this.checkMountsOf(container, volumes);
    for (const container of this.spec.initContainers ?? []) if (this.containerTemplates.has(container.name)) this.checkMountsOf(container, volumes);
    for (let i = 0; i < this.appCount; i += 1) this.checkMountsOf(this.spec.containers[i] as V1Container, volumes);
  }

  private checkMountsOf(container: V1Container, volumes: Set<string>): void {
    for (const mount of container.volumeMounts ?? []) {
      if (volumes.has(mount.name)) continue;
      this.problem({ code: 'missing-volume', message: `${this.containerOwner(container.name)} mounts volume '${printable(mount.name)}', which the pod does not have; add the volume or set the template parameter that names it` });
    }
  }

  /** Names the parameter that moves the clashing port, read from the template itself. */
  private portHint(templateName: string, containerName: string, key: string): string {
    const piece = this.pieces.find((p) => p.template.name === templateName);
    const injected = this.spec.containers.concat(this.spec.initContainers ?? []).find((c) => c.name === containerName);
    const port = (injected?.ports ?? []).find((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}` === key) ?? { containerPort: Number(key.split('/')[0]) };
    // The rendered listeners are the template's, in the same order, with their ports filled in.
    const at = piece === undefined ? -1 : loopbackListeners(piece.rendered).findIndex((l) => `${l.port}/TCP` === key);
    const local = piece === undefined || at < 0 ? undefined : /^\$\(params\.([-a-z0-9]+)\)$/.exec(loopbackListeners(piece.template.spec)[at]?.port ?? '')?.[1];
    const parameter = local ?? (piece === undefined ? undefined : portParameter(piece.template.spec, containerName, port));
    if (parameter === undefined) return `; template ${templateName} does not let a pod move container port ${port.containerPort}, so these two cannot share a pod`;
    return `; set ${parameterKey(templateName, parameter)} to a free port (it is ${port.containerPort})`;
  }

  private clash(code: Problem['code'], template: string | undefined, message: string): void {
    this.problem(template === undefined ? { code, message } : { code, template, message });
  }

  /** Past what a denial lists, problems are only counted: a pod can have thousands. */
  private problem(problem: Problem): void {
    this.problemCount += 1;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
  }
}

/** `problems` holds at most MAX_PROBLEMS; `problemCount` is how many there were. */
export function compose(pod: PodLike, pieces: Piece[], status: Status, placement: Placement): { problems: Problem[]; problemCount: number; warnings: string[] } {
  const composition = new Composition(pod, status, placement);
  for (const piece of pieces) composition.add(piece);
  composition.finish();
  return { problems: composition.problems, problemCount: composition.problemCount, warnings: composition.warnings };
}

/**
 * The privileges a container is given beyond Pod Security "restricted": capabilities added,
 * `privileged`, and `allowPrivilegeEscalation` when it is not false. Recorded in the status,
 * so the final-state check can tell them from ones another webhook added.
 */
export function grantsOf(container: V1Container): string[] {
  const context = container.securityContext ?? {};
  const grants = [...(context.capabilities?.add ?? [])];
  if (context.privileged === true) grants.push('privileged');
  if (context.allowPrivilegeEscalation !== false) grants.push('allowPrivilegeEscalation');
  return grants;
}

export function withDefaults(container: V1Container): V1Container {
  return setDefaults({ ...container });
}

/**
 * Sets the defaults on a container of the composition's own: a render builds fresh objects for
 * every pod, so its containers are edited in place rather than copied once more.
 */
function setDefaults(container: V1Container): V1Container {
  // Fresh copies: containers must never share objects, or a later edit of one changes all.
  // The template's own settings over the defaults, in one new object (the keys in the order
  // `{ ...restricted(), ...own }` gives them).
  container.securityContext = Object.assign(restricted(), container.securityContext);
  container.resources ??= defaultResources();
  return container;
}

/** The downwardAPI volume that mounts a template's files from their annotations. */
export function filesVolume(template: string, files: string[]): V1Volume {
  return volumeOf(filesOf(template, files));
}

/** What the annotations and the volume of a template's files are spelled with: the same for every pod. */
interface TemplateFiles {
  /** The file names, as the template lists them, and the annotation key of each. */
  names: string[];
  keys: string[];
  volume: string;
  /** The volume's items, by file name. */
  items: { path: string; fieldPath: string }[];
}

function filesOf(template: string, names: string[]): TemplateFiles {
  const keys = names.map((file) => fileKey(template, file));
  const items = names.map((file, i) => ({ path: file, fieldPath: `metadata.annotations['${keys[i]}']` })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { names, keys, volume: filesVolumeName(template), items };
}

/**
 * Worked out once per template (a catalog's templates are never edited: a changed template is
 * a new object), so an injection does not spell the same keys again for every pod.
 */
const FILES = new WeakMap<Template, TemplateFiles>();

function templateFiles(template: Template): TemplateFiles {
  let files = FILES.get(template);
  if (files === undefined) FILES.set(template, (files = filesOf(template.name, Object.keys(template.spec.files))));
  return files;
}

/** A new volume object for every pod: what goes into a pod is never shared. */
function volumeOf(files: TemplateFiles): V1Volume {
  return { name: files.volume, downwardAPI: { items: files.items.map(({ path, fieldPath }) => ({ path, fieldRef: { fieldPath } })) } };
}

/** The item of `list` named `name` (a loop: this runs for every container and volume a template adds). */
function named<T extends { name: string }>(list: T[] | undefined, name: string): T | undefined {
  for (const item of list ?? []) if (item.name === name) return item;
  return undefined;
}

function describeEnv(env: { value?: string; valueFrom?: unknown }): string {
  return env.value !== undefined ? `'${printable(String(env.value))}'` : 'a valueFrom reference';
}
