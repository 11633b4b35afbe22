// Adds rendered templates to a pod, in the order given, and finds every clash:
// container names, ports, volumes, env vars, mount paths and annotations. Mutates the pod
// it is given (the engine hands it a copy); the caller diffs the result for the patch.
import type { V1Container, V1ContainerPort, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { Pattern, Template } from '../catalog/types.js';
import { canonicalJson } from '../catalog/canonical.js';
import { MAX_PROBLEMS, printable } from './bounds.js';
import { fileKey, filesVolumeName } from './keys.js';
import type { Rendered } from './render.js';
import type { Status } from './status.js';
import type { PodLike, Problem } from './types.js';

export interface Piece {
  template: Template;
  pattern: Pattern;
  rendered: Rendered;
}

/**
 * What a container gets when its template says nothing: a securityContext that passes Pod
 * Security "restricted" (Kubernetes docs, "Pod Security Standards") and modest resources.
 */
const RESTRICTED = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};
const DEFAULT_RESOURCES = { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } };

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
  private readonly envOwners = new Map<string, Owner>(); // key: container/env
  private readonly mountOwners = new Map<string, Owner>(); // key: container/path

  constructor(
    pod: PodLike,
    private readonly status: Status,
    private readonly native: boolean,
  ) {
    this.spec = pod.spec as V1PodSpec;
    pod.metadata ??= {};
    this.annotations = pod.metadata.annotations ??= {};
    this.appContainers = [...this.spec.containers];
    for (const c of [...this.spec.containers, ...(this.spec.initContainers ?? [])]) this.containerOwners.set(c.name, `the pod's container '${printable(c.name)}'`);
    for (const v of this.spec.volumes ?? []) this.volumeOwners.set(v.name, `the pod's volume '${printable(v.name)}'`);
    for (const c of this.appContainers) {
      for (const e of c.env ?? []) this.envOwners.set(`${c.name}/${e.name}`, `the pod's own env var`);
      for (const m of c.volumeMounts ?? []) this.mountOwners.set(`${c.name}/${m.mountPath}`, `the pod's own mount of volume '${printable(m.name)}'`);
    }
  }

  add(piece: Piece): void {
    const { template, rendered } = piece;
    const owner = `template ${template.name}`;
    this.addAnnotations(piece, owner);
    const volumes = [...rendered.volumes];
    const files = Object.keys(rendered.files);
    if (files.length > 0) volumes.push(filesVolume(template.name, files));
    for (const volume of volumes) this.addVolume(volume, owner, template.name);
    for (const container of rendered.initContainers) this.addContainer(withDefaults(container), 'initContainers', template.name);
    const nativeSidecar = this.native && piece.pattern === 'sidecar';
    for (const container of rendered.containers) {
      const prepared = withDefaults(container);
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
    for (const container of this.appContainers) {
      for (const env of rendered.app.env ?? []) {
        const key = `${container.name}/${env.name}`;
        const current = (container.env ?? []).find((e) => e.name === env.name);
        if (current === undefined) {
          (container.env ??= []).push(env);
          this.envOwners.set(key, owner);
          if (!this.status.appEnv.includes(env.name)) this.status.appEnv.push(env.name);
        } else if (canonicalJson(current) !== canonicalJson(env)) {
          this.clash('clash-env', template.name, `env var ${env.name} in container '${printable(container.name)}': ${owner} sets ${describeEnv(env)} but ${this.envOwners.get(key)} has ${describeEnv(current)}`);
        }
      }
      for (const mount of rendered.app.volumeMounts ?? []) {
        const key = `${container.name}/${mount.mountPath}`;
        const current = (container.volumeMounts ?? []).find((m) => m.mountPath === mount.mountPath);
        if (current === undefined) {
          (container.volumeMounts ??= []).push(mount);
          this.mountOwners.set(key, owner);
          if (!this.status.appVolumeMounts.includes(mount.mountPath)) this.status.appVolumeMounts.push(mount.mountPath);
        } else if (canonicalJson(current) !== canonicalJson(mount)) {
          this.clash('clash-volume', template.name, `mount path ${printable(mount.mountPath)} in container '${printable(container.name)}': ${owner} mounts volume '${mount.name}' there, but ${this.mountOwners.get(key)} is already there`);
        }
      }
    }
  }

  /** Containers of a pod share one network namespace, so two cannot listen on one port. */
  private checkPorts(): void {
    const seen = new Map<string, string>(); // port/protocol -> container name
    const running = [...(this.spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always'), ...this.spec.containers];
    for (const container of running) {
      for (const port of container.ports ?? []) {
        const key = `${port.containerPort}/${port.protocol ?? 'TCP'}`;
        const previous = seen.get(key);
        // Two of the pod's own containers on one port are the pod's business, not a clash of ours.
        const template = this.containerTemplates.get(container.name) ?? (previous === undefined ? undefined : this.containerTemplates.get(previous));
        if (previous !== undefined && template !== undefined) {
          this.clash('clash-port', template, `port ${printable(key)}: ${this.containerOwners.get(container.name)} listens on it, and so does ${this.containerOwners.get(previous)}${hint(port)}`);
        }
        seen.set(key, container.name);
      }
    }
  }

  private checkMounts(): void {
    const volumes = new Set((this.spec.volumes ?? []).map((v) => v.name));
    const injected = [...this.spec.containers, ...(this.spec.initContainers ?? [])].filter((c) => this.containerTemplates.has(c.name));
    for (const container of [...injected, ...this.appContainers]) {
      for (const mount of container.volumeMounts ?? []) {
        if (volumes.has(mount.name)) continue;
        const owner = this.containerOwners.get(container.name) as string;
        this.problem({ code: 'missing-volume', message: `${owner} mounts volume '${printable(mount.name)}', which the pod does not have; add the volume or set the template parameter that names it` });
      }
    }
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
export function compose(pod: PodLike, pieces: Piece[], status: Status, native: boolean): { problems: Problem[]; problemCount: number; warnings: string[] } {
  const composition = new Composition(pod, status, native);
  for (const piece of pieces) composition.add(piece);
  composition.finish();
  return { problems: composition.problems, problemCount: composition.problemCount, warnings: composition.warnings };
}

function withDefaults(container: V1Container): V1Container {
  return {
    ...container,
    // Fresh copies: containers must never share objects, or a later edit of one changes all.
    securityContext: { ...structuredClone(RESTRICTED), ...container.securityContext },
    resources: container.resources ?? structuredClone(DEFAULT_RESOURCES),
  };
}

function filesVolume(template: string, files: string[]): V1Volume {
  return {
    name: filesVolumeName(template),
    downwardAPI: {
      items: files.sort().map((file) => ({ path: file, fieldRef: { fieldPath: `metadata.annotations['${fileKey(template, file)}']` } })),
    },
  };
}

function hint(port: V1ContainerPort): string {
  return `; set the template's port parameter to a free port (container port ${printable(String(port.containerPort))})`;
}

function describeEnv(env: { value?: string; valueFrom?: unknown }): string {
  return env.value !== undefined ? `'${printable(String(env.value))}'` : 'a valueFrom reference';
}
