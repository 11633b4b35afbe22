// Adds rendered templates to a pod, in the order given, then runs the rules (rules.ts) that
// find every clash and missing object. Mutates the pod it is given (the engine hands it an
// editable copy, patch.ts); the caller diffs the result for the patch.
import type { V1Container, V1PodSpec, V1Volume } from '#kube';
import { startsBeforeApp, type Template, type TemplateSpec } from '../model/template.js';
import { MAX_PROBLEMS, printable } from './bounds.js';
import { recordCritical } from './integrity.js';
import { editableContainer } from './patch.js';
import { RULES, filesVolumeOf, named, placeable, type Composed, type Piece, type Placement } from './rules.js';
import type { Status } from './status.js';
import { mountToken, tokenMountOf } from './token.js';
import type { PodLike, Problem } from './types.js';

export type { Piece, Placement } from './rules.js';

/**
 * What a container gets when its template says nothing: a securityContext that passes Pod
 * Security "restricted" (Kubernetes docs, "Pod Security Standards") and modest resources.
 */
function restricted(spec: TemplateSpec): NonNullable<V1Container['securityContext']> {
  // A Windows pod (spec.os.name: windows) must not set the Linux-only fields (Kubernetes API,
  // PodOS), and Pod Security "restricted" checks only runAsNonRoot there.
  if (spec.os?.includes('windows') === true) return { runAsNonRoot: true };
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
function defaultResources(): NonNullable<V1Container['resources']> {
  return { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } };
}

/**
 * Adds each piece's objects where their names are free; a name already taken keeps the pod's
 * or the earlier template's object (the rules then say so). Who added what is kept only for
 * what templates add, by template name.
 */
class Composition {
  readonly warnings: string[] = [];
  private readonly spec: V1PodSpec;
  private readonly annotations: Record<string, string>;
  private readonly appCount: number;
  private readonly containerTemplates = new Map<string, string>();
  private readonly volumeTemplates = new Map<string, string>();
  private readonly annotationTemplates = new Map<string, string>();
  /** Made when a template first wires the app. */
  private appWiring: Map<object, string> | undefined;
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
    this.addAnnotations(piece);
    for (const volume of rendered.volumes) this.addVolume(volume, template.name);
    const files = template.compiled.files;
    if (files.keys.length > 0) this.addVolume(filesVolumeOf(files), template.name);
    for (const container of rendered.initContainers)
      this.addContainer(setDefaults(container, template.spec), 'initContainers', template.name);
    if (!placeable(piece, this.placement)) return;
    // In a pod that runs to completion every long-running helper is a native sidecar, or the
    // pod never finishes; elsewhere those that must be Ready before the app starts are.
    const first = startsBeforeApp(template.spec, piece.pattern);
    const nativeSidecar = this.placement.native && (first || this.placement.runsToCompletion);
    if (first && !this.placement.native && rendered.containers.length > 0) {
      const names = rendered.containers.map((c) => `'${c.name}'`).join(', ');
      this.warnings.push(
        `template ${template.name}'s ${names} should be Ready before the app starts, but ${this.placement.why}: they start beside the app's containers, and the app may start first (the order is not held)`,
      );
    }
    for (const container of rendered.containers) {
      // The render's own object: made a native sidecar in place (its key order as a copy would have it).
      const prepared = setDefaults(container, template.spec);
      if (nativeSidecar) prepared.restartPolicy = 'Always';
      this.addContainer(prepared, nativeSidecar ? 'initContainers' : 'containers', template.name);
    }
    this.wireApp(piece);
  }

  /**
   * The ServiceAccount token mounted into the added containers as the API server's plugin would
   * mount it after us (token.ts): the stored pod is the same, and the change does not call
   * podpattern back.
   */
  mountServiceAccountToken(): void {
    const all = [...(this.spec.initContainers ?? []), ...this.spec.containers];
    const added = all.filter((c) => this.containerTemplates.has(c.name));
    if (added.length === 0) return;
    const mount = tokenMountOf(
      this.spec,
      all.filter((c) => !this.containerTemplates.has(c.name)),
    );
    if (mount !== undefined) mountToken(added, mount);
  }

  /** The pod as composed, for the rules. */
  composed(): Composed {
    const wiring = this.appWiring;
    return {
      spec: this.spec,
      annotations: this.annotations,
      placement: this.placement,
      appCount: this.appCount,
      containerTemplates: this.containerTemplates,
      volumeTemplates: this.volumeTemplates,
      annotationTemplates: this.annotationTemplates,
      wiringTemplate: (object) => wiring?.get(object),
    };
  }

  private addAnnotations({ template, rendered }: Piece): void {
    const files = template.compiled.files;
    for (let i = 0; i < files.keys.length; i += 1) {
      const key = files.keys[i] as string;
      this.annotations[key] = rendered.files[files.names[i] as string] as string;
      this.status.annotations.push(key);
    }
    for (const key in rendered.podAnnotations) {
      const value = rendered.podAnnotations[key] as string;
      if (this.annotationTemplates.has(key)) continue;
      if (this.annotations[key] !== undefined) {
        if (this.annotations[key] !== value)
          this.warnings.push(
            `annotation ${key} is kept as the pod sets it ('${printable(this.annotations[key] ?? '')}'); template ${template.name} would set '${printable(value)}'`,
          );
        continue;
      }
      this.annotations[key] = value;
      this.annotationTemplates.set(key, template.name);
      this.status.annotations.push(key);
    }
  }

  private addVolume(volume: V1Volume, template: string): void {
    if (named(this.spec.volumes, volume.name) !== undefined) return;
    (this.spec.volumes ??= []).push(volume);
    this.volumeTemplates.set(volume.name, template);
    this.status.volumes.push(volume.name);
  }

  private addContainer(container: V1Container, list: 'containers' | 'initContainers', template: string): void {
    if (
      this.containerTemplates.has(container.name) ||
      named(this.spec.containers, container.name) !== undefined ||
      named(this.spec.initContainers, container.name) !== undefined
    )
      return;
    this.containerTemplates.set(container.name, template);
    if (list === 'containers') this.spec.containers.push(container);
    else (this.spec.initContainers ??= []).push(container);
    this.status[list].push(container.name);
    if (list === 'initContainers' && container.restartPolicy === 'Always') this.status.sidecars.push(container.name);
    for (const grant of grantsOf(container)) if (!this.status.grants.includes(grant)) this.status.grants.push(grant);
    recordCritical(this.status, container);
  }

  private wireApp({ template, rendered }: Piece): void {
    for (let i = 0; i < this.appCount; i += 1) {
      for (const env of rendered.app.env ?? []) {
        if ((this.spec.containers[i]?.env ?? []).some((e) => e.name === env.name)) continue;
        (this.editableApp(i).env ??= []).push(env);
        (this.appWiring ??= new Map()).set(env, template.name);
        if (!this.status.appEnv.includes(env.name)) this.status.appEnv.push(env.name);
      }
      for (const mount of rendered.app.volumeMounts ?? []) {
        if ((this.spec.containers[i]?.volumeMounts ?? []).some((m) => m.mountPath === mount.mountPath)) continue;
        (this.editableApp(i).volumeMounts ??= []).push(mount);
        (this.appWiring ??= new Map()).set(mount, template.name);
        if (!this.status.appVolumeMounts.includes(mount.mountPath)) this.status.appVolumeMounts.push(mount.mountPath);
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
    const container = this.spec.containers[i] as V1Container;
    if (this.editedApps.includes(container)) return container;
    const copy = editableContainer(container);
    this.editedApps.push(copy);
    this.spec.containers[i] = copy;
    return copy;
  }
}

const RULE_LIST = Object.values(RULES);

/**
 * Adds the pieces, then runs every rule in order. `problems` holds at most MAX_PROBLEMS (a pod
 * can have thousands); `problemCount` is how many there were.
 */
export function compose(
  pod: PodLike,
  pieces: Piece[],
  status: Status,
  placement: Placement,
): { problems: Problem[]; problemCount: number; warnings: string[] } {
  const composition = new Composition(pod, status, placement);
  for (const piece of pieces) composition.add(piece);
  composition.mountServiceAccountToken();
  const composed = composition.composed();
  const problems: Problem[] = [];
  let problemCount = 0;
  for (const rule of RULE_LIST) {
    const found = rule(composed, pieces);
    problemCount += found.length;
    problems.push(...found.slice(0, MAX_PROBLEMS - problems.length));
  }
  return { problems, problemCount, warnings: composition.warnings };
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

export function withDefaults(container: V1Container, spec: TemplateSpec): V1Container {
  return setDefaults({ ...container }, spec);
}

/**
 * Sets the defaults on a container of the composition's own: a render builds fresh objects for
 * every pod, so its containers are edited in place rather than copied once more.
 */
function setDefaults(container: V1Container, spec: TemplateSpec): V1Container {
  // Fresh copies: containers must never share objects, or a later edit of one changes all.
  // The template's own settings over the defaults, in one new object (the keys in the order
  // `{ ...restricted(), ...own }` gives them).
  container.securityContext = Object.assign(restricted(spec), container.securityContext);
  container.resources ??= defaultResources();
  return container;
}

/** The downwardAPI volume that mounts a template's files from their annotations. */
export function filesVolume(template: Template): V1Volume {
  return filesVolumeOf(template.compiled.files);
}
