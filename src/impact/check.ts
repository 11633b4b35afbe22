// The impact of a template change on the workloads that run it, pure: each group of pods that
// would get the same next pod (namespace, workload, the annotations they asked with) is turned
// back into the pod its controller will create, as far as metadata tells, and given to the same
// engine twice: with the catalog as it is and as it would be. Its verdict: breaking (the next
// pod would be denied, with the denial's own reasons), changing (injected differently: which
// containers and fields), or neutral. Work is bounded by owners and by a clock.
import jsonpatch from 'fast-json-patch';
import type { Catalog } from '../model/template.js';
import { STATUS_KEY } from '../model/keys.js';
import type { InjectOptions, InjectionResult, PodLike } from '../engine/types.js';
import type { Usage } from './pod-index.js';

export type InjectFunction = (pod: PodLike, catalog: Catalog, options: InjectOptions) => InjectionResult;

export type Verdict = { kind: 'breaking'; reasons: string[] } | { kind: 'changing'; fields: string[] } | { kind: 'neutral' };

export interface OwnerImpact {
  usage: Usage;
  verdict: Verdict;
}

export interface ImpactReport {
  breaking: OwnerImpact[];
  changing: OwnerImpact[];
  neutral: OwnerImpact[];
  /** Groups left unchecked: past the budget of owners or time. */
  unchecked: number;
}

export interface ImpactInput {
  usages: Usage[];
  /** The catalog in force, and as it would be after the change. */
  before: Catalog;
  after: Catalog;
  inject: InjectFunction;
  /** Engine options for a namespace: native sidecars, server version, the namespace's defaults. */
  options: (namespace: string) => InjectOptions;
  /** Groups checked at most. */
  maxOwners: number;
  /** True once the time for the check is spent: the rest are counted unchecked. */
  outOfTime?: () => boolean;
}

/** The name of the application container in the pod rebuilt from metadata. */
export const APP_CONTAINER = 'application';
/** Changed fields named per owner at most. */
const MAX_FIELDS = 8;
/** Reasons kept per breaking owner, each cut to this length. */
const MAX_REASONS = 5;
const MAX_REASON_LENGTH = 400;

export function checkImpact(input: ImpactInput): ImpactReport {
  const report: ImpactReport = { breaking: [], changing: [], neutral: [], unchecked: 0 };
  const ordered = [...input.usages].sort(byWorkload);
  for (const [i, usage] of ordered.entries()) {
    if (i >= input.maxOwners || input.outOfTime?.() === true) {
      report.unchecked = ordered.length - i;
      break;
    }
    const verdict = judge(usage, input);
    report[verdict.kind].push({ usage, verdict });
  }
  return report;
}

/** The verdict on one group: its next pod rendered before and after. */
export function judge(usage: Usage, input: Pick<ImpactInput, 'before' | 'after' | 'inject' | 'options'>): Verdict {
  return judgePod(nextPod(usage), nextPodOptions(usage, input.options), input);
}

/** The engine's options for the workload's next pod. */
export function nextPodOptions(usage: Usage, options: ImpactInput['options']): InjectOptions {
  return { ...options(usage.namespace), namespace: usage.namespace, ...(runsToCompletion(usage) ? { runsToCompletion: true } : {}) };
}

/** A denial as a breaking verdict, its first reasons cut to length. */
export function breaking(problems: ReadonlyArray<{ message: string }>): Verdict {
  return { kind: 'breaking', reasons: problems.slice(0, MAX_REASONS).map((p) => cut(p.message)) };
}

/** The verdict on one pod (or pod template): what the engine makes of it with each catalog. */
export function judgePod(pod: PodLike, options: InjectOptions, input: Pick<ImpactInput, 'before' | 'after' | 'inject'>): Verdict {
  const before = input.inject(pod, input.before, options);
  const after = input.inject(pod, input.after, options);
  if (after.outcome === 'denied') {
    if (before.outcome === 'denied') return { kind: 'neutral' };
    return breaking(after.problems);
  }
  if (before.outcome === 'injected' && after.outcome === 'injected') {
    const fields = changedFields(before.pod, after.pod);
    return fields.length === 0 ? { kind: 'neutral' } : { kind: 'changing', fields };
  }
  if (before.outcome === after.outcome) return { kind: 'neutral' };
  return {
    kind: 'changing',
    fields: [after.outcome === 'injected' ? 'injected again (its next pods were denied)' : `no longer injected (${after.reason})`],
  };
}

/**
 * The pod the workload's controller will create next, as far as the index knows it: the
 * annotations its pods asked with, one application container, and a run-to-completion restart
 * policy for Jobs. Clashes with the application's own ports or names are not seen from metadata
 * (`podpattern templates diff --manifests` renders the real pod templates).
 */
export function nextPod(usage: Usage): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${usage.workload.name}-`, namespace: usage.namespace, annotations: { ...usage.asked } },
    spec: { containers: [{ name: APP_CONTAINER, image: APP_CONTAINER }], ...(runsToCompletion(usage) ? { restartPolicy: 'Never' } : {}) },
  };
}

function runsToCompletion(usage: Usage): boolean {
  return usage.workload.kind === 'Job' || usage.workload.kind === 'CronJob';
}

/** What differs between two injected pods, as `containers[name].field`, the status record aside. */
export function changedFields(before: PodLike, after: PodLike): string[] {
  const fields = new Set<string>();
  for (const op of jsonpatch.compare(before, after)) {
    const path = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (path[0] === 'metadata' && path[1] === 'annotations' && path[2] === STATUS_KEY) continue;
    fields.add(describePath(path, before, after));
    if (fields.size >= MAX_FIELDS) break;
  }
  return [...fields];
}

function describePath(path: string[], before: PodLike, after: PodLike): string {
  if (path[0] === 'metadata') return `metadata.${path[1] ?? ''}${path[2] === undefined ? '' : `[${path[2]}]`}`;
  const [, list, index, field] = path;
  if (list === 'containers' || list === 'initContainers' || list === 'volumes') {
    const at = Number(index);
    const named = (pod: PodLike) => (pod.spec as unknown as Record<string, Array<{ name?: string }> | undefined>)?.[list]?.[at]?.name;
    const name = named(after) ?? named(before) ?? index;
    return `${list}[${name}]${field === undefined ? '' : `.${field}`}`;
  }
  return path.slice(0, 3).join('.');
}

/** Usages by namespace, workload kind and name; the larger group of a workload first. */
export function byWorkload(a: Usage, b: Usage): number {
  return (
    a.namespace.localeCompare(b.namespace) ||
    a.workload.kind.localeCompare(b.workload.kind) ||
    a.workload.name.localeCompare(b.workload.name) ||
    b.pods - a.pods
  );
}

function cut(text: string): string {
  return text.length <= MAX_REASON_LENGTH ? text : `${text.slice(0, MAX_REASON_LENGTH)}…`;
}
