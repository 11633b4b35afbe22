// The one notion of "the pod template of a manifest": where each kind keeps it, whether its
// pods run to completion, and which volumes the controller adds to the pods it creates.
// Kinds not listed are still injected when they carry a pod template at spec.template (Argo
// Rollouts, Knative-style wrappers…); a listed kind without one is refused by name.
import { DOMAIN } from '../model/keys.js';

export interface PodTemplateSite {
  /** Keys from the manifest to the pod template; empty for a Pod. */
  path: string[];
  /** The pods are a Job's: they must finish. */
  runsToCompletion: boolean;
  /** Volumes the controller adds to each pod (a StatefulSet's volumeClaimTemplates). */
  controllerVolumes: string[];
}

export type PodTemplateLookup = { found: PodTemplateSite; template: Record<string, unknown> } | { refused: string } | { none: true };

const SPEC_TEMPLATE = ['spec', 'template'];

/** Where each kind we know keeps its pod template. */
const KNOWN_KINDS: Record<string, string[]> = {
  Pod: [],
  PodTemplate: ['template'],
  Deployment: SPEC_TEMPLATE,
  StatefulSet: SPEC_TEMPLATE,
  DaemonSet: SPEC_TEMPLATE,
  ReplicaSet: SPEC_TEMPLATE,
  ReplicationController: SPEC_TEMPLATE,
  // OpenShift, as apps.openshift.io/v1 and as the legacy v1 kind.
  DeploymentConfig: SPEC_TEMPLATE,
  Job: SPEC_TEMPLATE,
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

const RUN_TO_COMPLETION_KINDS = new Set(['Job', 'CronJob']);

type Node = Record<string, unknown>;

function at(root: unknown, path: string[]): unknown {
  return path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), root);
}

function isObject(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isPodTemplate(value: unknown): value is Node {
  return isObject(value) && isObject(value['spec']) && Array.isArray(value['spec']['containers']);
}

/** Finds the manifest's pod template; a known kind without one, or a half-formed one, is refused. */
export function findPodTemplate(manifest: unknown): PodTemplateLookup {
  if (!isObject(manifest)) return { none: true };
  const kind = typeof manifest['kind'] === 'string' ? manifest['kind'] : undefined;
  const known = kind === undefined ? undefined : KNOWN_KINDS[kind];
  const path = known ?? SPEC_TEMPLATE;
  const template = at(manifest, path);
  const where = path.length === 0 ? 'spec.containers' : `${path.join('.')}.spec.containers`;
  if (kind === 'Pod') {
    // A Pod is its own template; the engine itself refuses one without containers.
    return { found: site(manifest, kind, path), template: manifest };
  }
  if (isPodTemplate(template)) return { found: site(manifest, kind, path), template };
  if (known !== undefined)
    return {
      refused: `a ${kind} keeps its pod template at ${path.join('.')}, and this one has no ${where} list, so nothing can be injected`,
    };
  // Other kinds' spec.template may be anything; it is ours to refuse only when it asks for us.
  if (mentionsPodpattern(template))
    return {
      refused: `${kind ?? 'this object'} has podpattern annotations on a spec.template that is not a pod template (no ${where} list), so nothing can be injected`,
    };
  return { none: true };
}

function mentionsPodpattern(template: unknown): boolean {
  const annotations = at(template, ['metadata', 'annotations']);
  return isObject(annotations) && Object.keys(annotations).some((key) => key.startsWith(`${DOMAIN}/`) || key.includes(`.${DOMAIN}/`));
}

function site(manifest: Node, kind: string | undefined, path: string[]): PodTemplateSite {
  const claims = kind === 'StatefulSet' ? at(manifest, ['spec', 'volumeClaimTemplates']) : undefined;
  const controllerVolumes = Array.isArray(claims)
    ? claims.map((claim) => at(claim, ['metadata', 'name'])).filter((name): name is string => typeof name === 'string')
    : [];
  return { path, runsToCompletion: kind !== undefined && RUN_TO_COMPLETION_KINDS.has(kind), controllerVolumes };
}

/** Puts `value` where the manifest's pod template was. */
export function replacePodTemplate(manifest: Node, path: string[], value: unknown): void {
  if (path.length === 0) {
    for (const key of Object.keys(manifest)) delete manifest[key];
    Object.assign(manifest, value);
    return;
  }
  const parent = at(manifest, path.slice(0, -1)) as Node;
  parent[path[path.length - 1] as string] = value;
}
