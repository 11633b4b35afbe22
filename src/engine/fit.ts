// What an injected pod needs to fit the cluster it lands in, beyond the templates' own objects:
// the container kubectl picks without -c, the cluster autoscaler's list of local volumes it
// may throw away, the pull secrets of the templates' images, and whether the templates run on
// the operating system the pod is for. Run once, after the templates are composed (index.ts).
import type { V1NodeSelectorTerm, V1PodSpec } from '#kube';
import { DEFAULT_CONTAINER_KEY, OS_LABEL, SAFE_TO_EVICT_LOCAL_VOLUMES_KEY } from '../model/keys.js';
import { DEFAULT_OS, KNOWN_OS } from '../model/template.js';
import { printable } from './bounds.js';
import type { Piece } from './compose.js';
import type { Status } from './status.js';
import { checkLimitRanges } from './limit-range.js';
import type { InjectOptions, PodLike, Problem } from './types.js';

/** What fitting a composed pod reads besides the pod and its pieces. */
export interface FitContext {
  /** The pod's earlier injection record: the volumes it names leave the autoscaler's list unless injected again. */
  previous: Status | 'unreadable' | undefined;
  limitRanges: InjectOptions['limitRanges'];
  warnings: string[];
}

/**
 * Sets, on the composed pod, the default container (when the pod names none), the injected
 * emptyDir volumes the autoscaler may evict, and the templates' pull secrets; then checks it
 * against the namespace's LimitRanges (`before`: the pod's spec without this injection).
 * Returns the LimitRange problems.
 */
export function fitToCluster(
  pod: PodLike & { spec: V1PodSpec },
  before: V1PodSpec,
  pieces: Piece[],
  status: Status,
  context: FitContext,
): Problem[] {
  addAnnotations(pod, pieces, status, typeof context.previous === 'object' ? context.previous.volumes : []);
  addPullSecrets(pod.spec, pieces);
  return checkLimitRanges(pod, { before, pieces, status }, context.limitRanges, context.warnings);
}

function addAnnotations(pod: PodLike & { spec: V1PodSpec }, pieces: Piece[], status: Status, earlier: readonly string[]): void {
  const annotations = ((pod.metadata ??= {}).annotations ??= {});
  const own = pod.spec.containers.find((c) => !status.containers.includes(c.name));
  if (own !== undefined && !Object.hasOwn(annotations, DEFAULT_CONTAINER_KEY)) annotations[DEFAULT_CONTAINER_KEY] = own.name;
  const evictable = evictableVolumes(pieces, status);
  const listed = Object.hasOwn(annotations, SAFE_TO_EVICT_LOCAL_VOLUMES_KEY) ? annotations[SAFE_TO_EVICT_LOCAL_VOLUMES_KEY] : undefined;
  const merged = mergeVolumeList(listed, evictable, earlier);
  if (merged !== undefined) annotations[SAFE_TO_EVICT_LOCAL_VOLUMES_KEY] = merged;
  else delete annotations[SAFE_TO_EVICT_LOCAL_VOLUMES_KEY];
}

/** The emptyDir volumes the templates added (not the pod's own of the same name), less those of templates that keep them. */
function evictableVolumes(pieces: Piece[], status: Status): string[] {
  const names: string[] = [];
  for (const { template, rendered } of pieces) {
    if (template.spec.keepLocalVolumes === true) continue;
    for (const volume of rendered.volumes)
      if (volume.emptyDir !== undefined && status.volumes.includes(volume.name) && !names.includes(volume.name)) names.push(volume.name);
  }
  return names;
}

/**
 * The autoscaler's list with `add` appended where absent; names of `earlier` injected volumes
 * not injected again are taken out (the autoscaler refuses to drain a pod whose list names a
 * volume it lacks). The pod's own text is kept as it is when nothing is taken out. Undefined
 * when the list ends up empty and the pod had none.
 */
export function mergeVolumeList(listed: string | undefined, add: readonly string[], earlier: readonly string[]): string | undefined {
  if (listed === undefined || listed.trim() === '') return add.length === 0 ? listed : add.join(',');
  const items = listed.split(',');
  const stale = items.filter((item) => earlier.includes(item.trim()) && !add.includes(item.trim()));
  const kept = stale.length === 0 ? listed : items.filter((item) => !stale.includes(item)).join(',');
  const present = kept.split(',').map((item) => item.trim());
  const missing = add.filter((name) => !present.includes(name));
  if (kept.trim() === '') return missing.length === 0 ? undefined : missing.join(',');
  return missing.length === 0 ? kept : `${kept},${missing.join(',')}`;
}

/** Each template's pull secrets, added once by name after the pod's own (a new list: the input's is never edited). */
function addPullSecrets(spec: V1PodSpec, pieces: Piece[]): void {
  const wanted = pieces.flatMap((p) => p.template.spec.imagePullSecrets ?? []);
  if (wanted.length === 0) return;
  const secrets = [...(spec.imagePullSecrets ?? [])];
  for (const { name } of wanted) if (!secrets.some((s) => s.name === name)) secrets.push({ name });
  if (secrets.length !== (spec.imagePullSecrets ?? []).length) spec.imagePullSecrets = secrets;
}

/**
 * A template runs on the operating systems it declares (linux unless it says otherwise). A pod
 * is for another one when its spec.os.name says so, or when the scheduler can only place it on
 * nodes labelled kubernetes.io/os with another value (its nodeSelector, or every term of its
 * required node affinity); such a pod is denied for each template that cannot run there.
 */
export function osProblems(pod: PodLike & { spec: V1PodSpec }, pieces: Piece[]): Problem[] {
  const constraint = podOs(pod.spec);
  if (constraint === undefined) return [];
  const problems: Problem[] = [];
  for (const { template } of pieces) {
    const runsOn = template.spec.os ?? DEFAULT_OS;
    if (runsOn.some(constraint.allows)) continue;
    problems.push({
      code: 'unsupported-os',
      template: template.name,
      message: `template ${template.name} runs on ${runsOn.join(', ')} only, and this pod is for ${constraint.describe}; podpattern does not inject it: drop the template, or use one made for that operating system`,
    });
  }
  return problems;
}

interface OsConstraint {
  allows: (os: string) => boolean;
  /** Where the pod says so, for messages. */
  describe: string;
}

/** What the pod says of the operating system it runs on; undefined when it says nothing. */
function podOs(spec: V1PodSpec): OsConstraint | undefined {
  const named = spec.os?.name;
  if (typeof named === 'string' && named !== '') return { allows: (os) => os === named, describe: `${printable(named)} (spec.os.name)` };
  const selected = spec.nodeSelector?.[OS_LABEL];
  if (typeof selected === 'string' && selected !== '')
    return { allows: (os) => os === selected, describe: `${printable(selected)} (nodeSelector ${OS_LABEL})` };
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) return undefined;
  // The terms are ORed: a term that says nothing of the OS lets the pod go anywhere.
  if (!terms.every((term) => osExpressions(term).length > 0)) return undefined;
  const allows = (os: string): boolean => terms.some((term) => osExpressions(term).every((e) => expressionAllows(e, os)));
  const known = KNOWN_OS.filter(allows);
  return {
    allows,
    describe: `${known.length > 0 ? known.join(' or ') : 'no operating system podpattern knows'} (required node affinity on ${OS_LABEL})`,
  };
}

/** The term's requirements on the OS label; a malformed term or requirement (hostile input) has none. */
function osExpressions(term: V1NodeSelectorTerm | null): { operator: string; values: unknown[] }[] {
  const expressions: unknown = term?.matchExpressions;
  if (!Array.isArray(expressions)) return [];
  return expressions
    .filter(
      (e): e is { key: string; operator: string; values?: unknown } =>
        typeof e === 'object' && e !== null && (e as { key?: unknown }).key === OS_LABEL,
    )
    .map((e) => ({ operator: String(e.operator), values: Array.isArray(e.values) ? e.values : [] }));
}

/** A node selector requirement on the OS label, for a node of `os` (Kubernetes API, NodeSelectorRequirement). */
function expressionAllows(expression: { operator: string; values: unknown[] }, os: string): boolean {
  const values = expression.values;
  switch (expression.operator) {
    case 'In':
      return values.includes(os);
    case 'NotIn':
      return !values.includes(os);
    case 'DoesNotExist':
      return false;
    default:
      return true;
  }
}
