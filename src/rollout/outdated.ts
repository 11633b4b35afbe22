// Which workloads run an outdated revision of a template, from the index of injected pods:
// grouped by workload (a ReplicaSet's pods under their Deployment), the revision each namespace
// should run (the promoted one outside the canary namespaces while a canary runs), and the
// order they are restarted in. Pure but for the owner lookups it is given.
import type { InvolvedObject } from '../events/recorder.js';
import type { Usage } from '../impact/pod-index.js';
import type { OwnerRef } from '../impact/pod-record.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND } from '../model/template.js';
import { isCanaryNamespace, type RestartEntry, type RolloutSettings, type RolloutStatus } from './plan.js';

/** The workload of pods that run the template, and the hashes they record. */
export interface Workload {
  namespace: string;
  kind: string;
  name: string;
  hashes: Set<string>;
}

/** What planOf reads of a template's rollout. */
export interface PlanInput {
  settings: RolloutSettings;
  current: string;
  promoted: string | undefined;
  inCanary: boolean;
  next: Pick<RolloutStatus, 'restarted' | 'since'>;
}

/** The workloads that run an outdated revision, and how to tell which revision each should run. */
export interface Plan {
  canary: (namespace: string) => boolean;
  target: (namespace: string) => string;
  settled: (w: Workload) => boolean;
  /** Not settled, in the order they are taken: canary namespaces first. */
  waiting: Workload[];
}

/** Results after which the workload may be restarted again for the same revision. */
const UNSETTLED = new Set<RestartEntry['result']>(['gone', 'refused', 'superseded']);

/** Which revision each namespace should run, and the workloads that do not yet. */
export function planOf(run: PlanInput, workloads: readonly Workload[], labels: ReadonlyMap<string, Record<string, string>>): Plan {
  const canary = (namespace: string): boolean => isCanaryNamespace(run.settings, labels.get(namespace));
  const target = (namespace: string): string =>
    run.inCanary && !canary(namespace) && run.promoted !== undefined ? run.promoted : run.current;
  const since = Date.parse(run.next.since);
  // Restarted (or reported) for this revision since it became current: never again for it, even
  // while its old pods are still going. A refused restart is tried again once resumed.
  const settled = (w: Workload): boolean =>
    run.next.restarted.some(
      (e) =>
        e.namespace === w.namespace &&
        e.kind === w.kind &&
        e.name === w.name &&
        e.hash === target(w.namespace) &&
        !UNSETTLED.has(e.result) &&
        Date.parse(e.at) >= since,
    );
  const waiting = workloads
    .filter((w) => [...w.hashes].some((h) => h !== target(w.namespace)) && !settled(w) && (!run.inCanary || canary(w.namespace)))
    .sort(
      (a, b) =>
        Number(canary(b.namespace)) - Number(canary(a.namespace)) ||
        a.namespace.localeCompare(b.namespace) ||
        a.kind.localeCompare(b.kind) ||
        a.name.localeCompare(b.name),
    );
  return { canary, target, settled, waiting };
}

/** The workloads of the pods running the template: a ReplicaSet's Deployment, a Job's CronJob (asked of `controllerOf`). */
export async function workloadsOf(
  usages: readonly Usage[],
  controllerOf: (namespace: string, owner: OwnerRef) => Promise<OwnerRef | null>,
): Promise<Workload[]> {
  const found = new Map<string, Workload>();
  const resolved = new Map<string, OwnerRef>();
  for (const usage of usages) {
    let owner = usage.workload;
    if (owner.kind === 'ReplicaSet' || owner.kind === 'Job') {
      const key = `${usage.namespace}/${owner.kind}/${owner.name}`;
      let above = resolved.get(key);
      if (above === undefined) {
        above = (await controllerOf(usage.namespace, owner).catch(() => null)) ?? owner;
        resolved.set(key, above);
      }
      owner = above;
    }
    const key = `${usage.namespace}/${owner.kind}/${owner.name}`;
    const workload = found.get(key) ?? { namespace: usage.namespace, kind: owner.kind, name: owner.name, hashes: new Set<string>() };
    for (const hash of usage.hashes) workload.hashes.add(hash);
    found.set(key, workload);
  }
  return [...found.values()];
}

export function notRestartedMessage(w: Workload): string {
  if (w.kind === 'Pod') return 'a bare pod: not restarted by podpattern; delete it and create it again to get the new revision';
  return `a ${w.kind}: not restarted by podpattern; its next pods get the new revision (recreate it to roll it now)`;
}

/**
 * Why promotion is held back: a canary workload failed its gate for the current revision since
 * it became current (the rollout resumed since). Only `podpattern rollout promote` promotes that
 * revision then. Undefined when none failed.
 */
export function failedCanary(plan: Plan, run: PlanInput & { name: string }): string | undefined {
  const since = Date.parse(run.next.since);
  const e = run.next.restarted.find(
    (e) => e.hash === run.current && e.result === 'failed' && plan.canary(e.namespace) && Date.parse(e.at) >= since,
  );
  if (e === undefined) return undefined;
  return `${e.kind} ${e.namespace}/${e.name} failed its gate for revision ${run.current}, which is not promoted: podpattern rollout undo ${run.name} goes back, podpattern rollout promote ${run.name} promotes it anyway`;
}

/** A PatternTemplate as an Event's object: a cluster-scoped object's Events go to default, where kubectl describe looks. */
export function templateInvolved(name: string, uid: string | undefined): InvolvedObject {
  return { apiVersion: TEMPLATE_API_VERSION, kind: TEMPLATE_KIND, name, namespace: 'default', ...(uid === undefined ? {} : { uid }) };
}
