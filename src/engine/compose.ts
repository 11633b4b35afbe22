// Adds rendered templates to a pod, in the order given, and finds every clash:
// container names, ports, volumes, env vars, mount paths and annotations. Mutates the pod
// it is given (the engine hands it an editable copy, patch.ts); the caller diffs the result for the patch.
import type { V1Container, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { Pattern, Template } from '../model/template.js';
import { canonicalJson } from '../catalog/canonical.js';
import { MAX_PROBLEMS, printable } from './bounds.js';
import { fileKey, filesVolumeName, parameterKey } from '../model/keys.js';
import type { Rendered } from './render.js';
import { editableContainer } from './patch.js';
import type { Status } from './status.js';
import type { PodLike, Problem } from './types.js';
import { listeningPorts, portParameter } from '../catalog/listening.js';
import { loopbackListeners } from '../catalog/probes.js';

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

type Owner = string; // "the pod's container 'app'", "template https-proxy"

class Composition {
  readonly problems: Problem[] = [];
  problemCount = 0;
  readonly warnings: string[] = [];
  private readonly spec: V1PodSpec;
  private readonly annotations: Record<string, string>;
  private readonly appContainers: V1Container[];
  private readonly containerOwners = new Map<string, Owner>();
  /** The template that added each injected container; pod containers are absent. */
  private readonly containerTemplates = new Map<string, string>();
  private readonly volumeOwners = new Map<string, Owner>();
  private readonly annotationOwners = new Map<string, Owner>();
  /** Env vars and mounts the templates added to the app's containers; the rest are the pod's own. */
  private readonly envOwners = new Map<string, Owner>(); // key: container/env
  private readonly mountOwners = new Map<string, Owner>(); // key: container/path
  private readonly pieces = new Map<string, Piece>();
  /** The app's containers already copied by editableApp. */
  private readonly editedApps = new Set<V1Container>();

  constructor(
    pod: PodLike,
    private readonly status: Status,
    private readonly placement: Placement,
  ) {
    this.spec = pod.spec as V1PodSpec;
    pod.metadata ??= {};
    this.annotations = pod.metadata.annotations ??= {};
    this.appContainers = [...this.spec.containers];
    for (const c of [...this.spec.containers, ...(this.spec.initContainers ?? [])]) this.containerOwners.set(c.name, `the pod's container '${printable(c.name)}'`);
    for (const v of this.spec.volumes ?? []) this.volumeOwners.set(v.name, `the pod's volume '${printable(v.name)}'`);
  }

  add(piece: Piece): void {
    const { template, rendered } = piece;
    this.pieces.set(template.name, piece);
    const owner = `template ${template.name}`;
    this.addAnnotations(piece, owner);
    const volumes = [...rendered.volumes];
    const files = Object.keys(rendered.files);
    if (files.length > 0) volumes.push(filesVolume(template.name, files));
    for (const volume of volumes) this.addVolume(volume, owner, template.name);
    for (const container of rendered.initContainers) this.addContainer(setDefaults(container), 'initContainers', template.name);
    this.checkHostNetwork(piece);
    // In a pod that runs to completion every long-running helper must be a native sidecar,
    // or the pod never finishes; elsewhere only the sidecar pattern is (it must start first).
    const nativeSidecar = this.placement.native && (piece.pattern === 'sidecar' || this.placement.runsToCompletion);
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
      const prepared = setDefaults(container);
      if (nativeSidecar) this.addContainer({ ...prepared, restartPolicy: 'Always' }, 'initContainers', template.name);
      else this.addContainer(prepared, 'containers', template.name);
    }
    this.wireApp(piece, owner);
  }

  finish(): void {
    this.checkPorts();
    this.checkMounts();
  }

  private addAnnotations({ template, rendered }: Piece, owner: Owner): void {
    for (const [file, text] of Object.entries(rendered.files)) {
      const key = fileKey(template.name, file);
      this.annotations[key] = text;
      this.status.annotations.push(key);
    }
    for (const [key, value] of Object.entries(rendered.podAnnotations)) {
      const previous = this.annotationOwners.get(key);
      if (previous !== undefined && this.annotations[key] !== value) {
        this.clash('clash-annotation', template.name, `annotation ${key}: ${owner} sets '${printable(value)}' but ${previous} sets '${printable(this.annotations[key] ?? '')}'`);
      } else if (previous === undefined && this.annotations[key] !== undefined) {
        if (this.annotations[key] !== value) this.warnings.push(`annotation ${key} is kept as the pod sets it ('${printable(this.annotations[key] ?? '')}'); ${owner} would set '${printable(value)}'`);
      } else {
        this.annotations[key] = value;
        this.annotationOwners.set(key, owner);
        this.status.annotations.push(key);
      }
    }
  }

  private addVolume(volume: V1Volume, owner: Owner, template: string): void {
    const existing = (this.spec.volumes ?? []).find((v) => v.name === volume.name);
    if (existing !== undefined) {
      // Two parties may share a volume only if they describe it identically.
      if (canonicalJson(existing) !== canonicalJson(volume)) {
        this.clash('clash-volume', template, `volume '${volume.name}': ${owner} declares it differently from ${this.volumeOwners.get(volume.name)}`);
      }
      return;
    }
    (this.spec.volumes ??= []).push(volume);
    this.volumeOwners.set(volume.name, owner);
    this.status.volumes.push(volume.name);
  }

  private addContainer(container: V1Container, list: 'containers' | 'initContainers', template: string): void {
    const previous = this.containerOwners.get(container.name);
    if (previous !== undefined) {
      this.clash('clash-container', template, `container name '${container.name}': template ${template} adds a container of that name, and so does ${previous}`);
      return;
    }
    this.containerOwners.set(container.name, `template ${template}'s container '${container.name}'`);
    this.containerTemplates.set(container.name, template);
    if (list === 'containers') this.spec.containers.push(container);
    else (this.spec.initContainers ??= []).push(container);
    this.status[list].push(container.name);
  }

  private wireApp({ template, rendered }: Piece, owner: Owner): void {
    for (const [i, app] of this.appContainers.entries()) {
      let container = app;
      for (const env of rendered.app.env ?? []) {
        const key = `${container.name}/${env.name}`;
        const current = (container.env ?? []).find((e) => e.name === env.name);
        if (current === undefined) {
          container = this.editableApp(i);
          (container.env ??= []).push(env);
          this.envOwners.set(key, owner);
          if (!this.status.appEnv.includes(env.name)) this.status.appEnv.push(env.name);
        } else if (canonicalJson(current) !== canonicalJson(env)) {
          this.clash('clash-env', template.name, `env var ${env.name} in container '${printable(container.name)}': ${owner} sets ${describeEnv(env)} but ${this.envOwners.get(key) ?? "the pod's own env var"} has ${describeEnv(current)}`);
        }
      }
      for (const mount of rendered.app.volumeMounts ?? []) {
        const key = `${container.name}/${mount.mountPath}`;
        const current = (container.volumeMounts ?? []).find((m) => m.mountPath === mount.mountPath);
        if (current === undefined) {
          container = this.editableApp(i);
          (container.volumeMounts ??= []).push(mount);
          this.mountOwners.set(key, owner);
          if (!this.status.appVolumeMounts.includes(mount.mountPath)) this.status.appVolumeMounts.push(mount.mountPath);
        } else if (canonicalJson(current) !== canonicalJson(mount)) {
          this.clash('clash-volume', template.name, `mount path ${printable(mount.mountPath)} in container '${printable(container.name)}': ${owner} mounts volume '${mount.name}' there, but ${this.mountOwners.get(key) ?? `the pod's own mount of volume '${printable(current.name)}'`} is already there`);
        }
      }
    }
  }

  /**
   * The app's container at `i`, made the composition's own (a copy with its own env and
   * volumeMounts lists, in place of the pod's) the first time a template adds to it: the pod's
   * container is never edited, and a container nothing is added to stays the pod's object,
   * which the diff then skips whole.
   */
  private editableApp(i: number): V1Container {
    const container = this.appContainers[i] as V1Container;
    if (this.editedApps.has(container)) return container;
    const copy = editableContainer(container);
    this.editedApps.add(copy);
    this.appContainers[i] = copy;
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
    for (const container of [...rendered.initContainers, ...rendered.containers]) {
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
   * Loopback-only listeners declare no containerPort (nothing outside the pod may reach them),
   * but they take a port of the pod's network all the same: the port, and the template's first
   * long-running container as the one holding it.
   */
  private loopbackPorts(): { key: string; container: string }[] {
    return [...this.pieces.values()].flatMap(({ rendered }) => {
      const holder = rendered.containers[0]?.name ?? rendered.initContainers[0]?.name;
      return holder === undefined ? [] : loopbackListeners(rendered).map((l) => ({ key: `${l.port}/TCP`, container: holder }));
    });
  }

  /** Containers of a pod share one network namespace, so two cannot listen on one port. */
  private checkPorts(): void {
    const seen = new Map<string, string>(); // port/protocol -> container name
    const running = [...(this.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...this.spec.containers];
    const loopback = this.loopbackPorts();
    for (const container of running) {
      const keys = [...(container.ports ?? []).map((port) => `${port.containerPort}/${port.protocol ?? 'TCP'}`), ...loopback.filter((l) => l.container === container.name).map((l) => l.key)];
      for (const key of keys) {
        const previous = seen.get(key);
        // Two of the pod's own containers on one port are the pod's business, not a clash of ours.
        const template = this.containerTemplates.get(container.name) ?? (previous === undefined ? undefined : this.containerTemplates.get(previous));
        if (previous !== undefined && template !== undefined) {
          this.clash('clash-port', template, `port ${printable(key)}: ${this.containerOwners.get(container.name)} listens on it, and so does ${this.containerOwners.get(previous)}${this.portHint(template, this.containerTemplates.has(container.name) ? container.name : previous, key)}`);
        }
        seen.set(key, container.name);
      }
    }
  }

  private checkMounts(): void {
    const volumes = new Set([...(this.spec.volumes ?? []).map((v) => v.name), ...this.placement.controllerVolumes]);
    const injected = [...this.spec.containers, ...(this.spec.initContainers ?? [])].filter((c) => this.containerTemplates.has(c.name));
    for (const container of [...injected, ...this.appContainers]) {
      for (const mount of container.volumeMounts ?? []) {
        if (volumes.has(mount.name)) continue;
        const owner = this.containerOwners.get(container.name) as string;
        this.problem({ code: 'missing-volume', message: `${owner} mounts volume '${printable(mount.name)}', which the pod does not have; add the volume or set the template parameter that names it` });
      }
    }
  }

  /** Names the parameter that moves the clashing port, read from the template itself. */
  private portHint(templateName: string, containerName: string, key: string): string {
    const piece = this.pieces.get(templateName);
    const injected = [...this.spec.containers, ...(this.spec.initContainers ?? [])].find((c) => c.name === containerName);
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

export function withDefaults(container: V1Container): V1Container {
  return setDefaults({ ...container });
}

/**
 * Sets the defaults on a container of the composition's own: a render builds fresh objects for
 * every pod, so its containers are edited in place rather than copied once more.
 */
function setDefaults(container: V1Container): V1Container {
  // Fresh copies: containers must never share objects, or a later edit of one changes all.
  container.securityContext = { ...restricted(), ...container.securityContext };
  container.resources ??= defaultResources();
  return container;
}

export function filesVolume(template: string, files: string[]): V1Volume {
  return {
    name: filesVolumeName(template),
    downwardAPI: {
      items: files.sort().map((file) => ({ path: file, fieldRef: { fieldPath: `metadata.annotations['${fileKey(template, file)}']` } })),
    },
  };
}

function describeEnv(env: { value?: string; valueFrom?: unknown }): string {
  return env.value !== undefined ? `'${printable(String(env.value))}'` : 'a valueFrom reference';
}
