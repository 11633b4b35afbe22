// Healing: pods in `enabled` namespaces that asked for templates but were admitted without
// them (the webhook fails open there, so a pod created while podpattern was down runs without
// its sidecars) get their workload restarted, the way `kubectl rollout restart` does, so the
// workload's own strategy and PodDisruptionBudget pace it and the new pods are injected. Only
// once this replica has been Ready for the grace period, only pods older than it, and at most
// restartsPerMinute restarts a minute. A workload healing restarted is marked
// (podpattern.dev/healed); if its new pods miss injection as well it is reported, never
// restarted again. Bare pods, Jobs and CronJobs are never killed: they get an Event, and
// `podpattern status` lists them.
import type { Logger } from 'pino';
import type { EventSink, InvolvedObject } from '../events/recorder.js';
import type { OwnerRef } from '../impact/pod-record.js';
import {
  decide,
  isRestartable,
  missedAsks,
  missedPods,
  readHealRecord,
  type HealRecord,
  type PodMeta,
  type RestartableKind,
} from './missed.js';

export interface WorkloadMeta {
  uid: string;
  generation: number;
  resourceVersion: string;
  annotations: Readonly<Record<string, string>>;
}

/** What healing needs of the API (heal-kube.ts; a fake API server in tests). */
export interface HealApi {
  /** Namespaces labelled podpattern.dev/injection=enabled. */
  enabledNamespaces(): Promise<string[]>;
  /** Metadata of the namespace's pods that are pending or running. */
  pods(namespace: string): Promise<PodMeta[]>;
  /** The controller of a ReplicaSet or Job (its Deployment or CronJob); null when it has none. */
  controllerOf(namespace: string, owner: OwnerRef): Promise<OwnerRef | null>;
  /** The workload's metadata; undefined when it is gone. */
  readWorkload(namespace: string, kind: RestartableKind, name: string): Promise<WorkloadMeta | undefined>;
  /** Sets the restart annotation on its pod template and the record on it, if still at `resourceVersion`. */
  restart(namespace: string, kind: RestartableKind, name: string, resourceVersion: string, record: HealRecord): Promise<void>;
}

export interface HealMetrics {
  restarted(kind: string): void;
  reported(kind: string, reason: ReportReason): void;
  missed(count: number): void;
}

export type ReportReason = 'not-restartable' | 'still-missed' | 'restart-failed' | 'would-be-denied';

export interface HealerOptions {
  api: HealApi;
  events: EventSink;
  metrics: HealMetrics;
  logger: Logger;
  /** Ready this long before healing, and pods at least this old. */
  graceMs: number;
  restartsPerMinute: number;
  /** This replica's readiness (certificate, catalog, not draining). */
  ready: () => boolean;
  /**
   * Why the workload's next pod would be denied by the current templates (the engine on a pod
   * rebuilt from the missed pods' annotations), or undefined when it would be admitted. A
   * restart then would only replace running pods with ones the webhook refuses.
   */
  nextPodDenial?: (namespace: string, workload: OwnerRef, annotations: Readonly<Record<string, string>>) => string | undefined;
  now?: () => number;
}

export interface PassResult {
  state: 'not-ready' | 'settling' | 'done';
  restarted: string[];
  reported: string[];
  /** Restarts due but over the rate: the next pass takes them. */
  deferred: string[];
}

/** Objects already reported, remembered so each gets one Event; bounded, oldest forgotten first. */
const MAX_REMEMBERED = 10_000;

interface Group {
  namespace: string;
  workload: OwnerRef;
  pods: PodMeta[];
}

export class Healer {
  private readySince: number | undefined;
  private readonly restarts: number[] = [];
  private readonly reportedKeys = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly options: HealerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One look at the cluster: restart what is due (within the rate), report the rest. */
  async pass(): Promise<PassResult> {
    const result: PassResult = { state: 'done', restarted: [], reported: [], deferred: [] };
    const now = this.now();
    if (!this.options.ready()) {
      this.readySince = undefined;
      return { ...result, state: 'not-ready' };
    }
    this.readySince ??= now;
    if (now - this.readySince < this.options.graceMs) return { ...result, state: 'settling' };
    const missed: PodMeta[] = [];
    for (const namespace of await this.options.api.enabledNamespaces()) {
      try {
        missed.push(...missedPods(await this.options.api.pods(namespace), now, this.options.graceMs));
      } catch (error) {
        this.options.logger.warn({ namespace, err: message(error) }, 'cannot list the pods of a namespace to heal');
      }
    }
    this.options.metrics.missed(missed.length);
    // One workload that cannot be read (its namespace going away, RBAC) never holds up the others.
    for (const group of await this.groupByWorkload(missed)) {
      try {
        await this.heal(group, result);
      } catch (error) {
        this.options.logger.warn(
          { namespace: group.namespace, workload: `${group.workload.kind}/${group.workload.name}`, err: message(error) },
          'cannot heal a workload whose pods missed injection',
        );
      }
    }
    return result;
  }

  private async groupByWorkload(pods: PodMeta[]): Promise<Group[]> {
    const groups = new Map<string, Group>();
    for (const pod of pods) {
      const workload = await this.workloadOf(pod);
      const id = `${pod.namespace}/${workload.kind}/${workload.name}`;
      const group = groups.get(id) ?? { namespace: pod.namespace, workload, pods: [] };
      group.pods.push(pod);
      groups.set(id, group);
    }
    return [...groups.values()];
  }

  /** A ReplicaSet's Deployment, a Job's CronJob; the pod itself when it has no controller. */
  private async workloadOf(pod: PodMeta): Promise<OwnerRef> {
    if (pod.owner === undefined) return { kind: 'Pod', name: pod.name };
    if (pod.owner.kind !== 'ReplicaSet' && pod.owner.kind !== 'Job') return pod.owner;
    try {
      return (await this.options.api.controllerOf(pod.namespace, pod.owner)) ?? pod.owner;
    } catch (error) {
      this.options.logger.warn(
        { namespace: pod.namespace, owner: `${pod.owner.kind}/${pod.owner.name}`, err: message(error) },
        'cannot read the workload of a pod that missed injection',
      );
      return pod.owner;
    }
  }

  private async heal(group: Group, result: PassResult): Promise<void> {
    const { namespace, workload } = group;
    const label = `${namespace}/${workload.kind}/${workload.name}`;
    const asks = missedAsks(group.pods[0]!.annotations)!.join(', ');
    if (!isRestartable(workload.kind)) {
      this.reportNotRestartable(group, label, asks, result);
      return;
    }
    const meta = await this.options.api.readWorkload(namespace, workload.kind, workload.name);
    if (meta === undefined) return;
    const involved: InvolvedObject = { apiVersion: 'apps/v1', kind: workload.kind, name: workload.name, namespace, uid: meta.uid };
    const verdict = decide(
      readHealRecord(meta.annotations),
      meta.generation,
      group.pods.map((p) => p.createdAt),
    );
    if (verdict.action === 'wait') return;
    if (verdict.action === 'report') {
      if (this.reportOnce(`${label} still-missed ${meta.generation}`)) {
        this.report(
          involved,
          'still-missed',
          `${describePods(group.pods)} created since podpattern restarted it at ${new Date(verdict.since).toISOString()} missed injection again (${asks}); not restarted again: run podpattern check ${workload.kind.toLowerCase()}/${workload.name} -n ${namespace} to see why`,
        );
        result.reported.push(label);
      }
      return;
    }
    const denial = this.options.nextPodDenial?.(namespace, workload, group.pods[0]!.annotations);
    if (denial !== undefined) {
      if (this.reportOnce(`${label} would-be-denied ${meta.generation} ${denial}`)) {
        this.report(
          involved,
          'would-be-denied',
          `not restarted: ${describePods(group.pods)} missed injection (${asks}), but the webhook would deny its next pods: ${denial.slice(0, 1024)}`,
        );
        result.reported.push(label);
      }
      return;
    }
    if (!this.takeRestart()) {
      result.deferred.push(label);
      return;
    }
    const at = this.now();
    try {
      await this.options.api.restart(namespace, workload.kind, workload.name, meta.resourceVersion, {
        at,
        generation: meta.generation + 1,
      });
    } catch (error) {
      this.restarts.pop();
      this.report(involved, 'restart-failed', `cannot restart it so that its pods get ${asks}: ${message(error)}`);
      result.reported.push(label);
      return;
    }
    this.options.metrics.restarted(workload.kind);
    this.options.events.record({
      type: 'Normal',
      reason: 'RestartedForInjection',
      involved,
      key: 'heal',
      message: `restarted (as kubectl rollout restart does): ${describePods(group.pods)} asked for ${asks} but ${group.pods.length === 1 ? 'was' : 'were'} admitted without injection while podpattern was not reachable`,
    });
    this.options.logger.info(
      { namespace, workload: `${workload.kind}/${workload.name}`, pods: group.pods.length },
      'restarted a workload whose pods missed injection',
    );
    result.restarted.push(label);
  }

  /** A bare pod, a Job's or CronJob's pod, or a ReplicaSet's without a Deployment: an Event, once. */
  private reportNotRestartable(group: Group, label: string, asks: string, result: PassResult): void {
    const { namespace, workload } = group;
    if (this.reportOnce(`${label} not-restartable ${group.pods.map((p) => p.uid).join(',')}`)) {
      const involved =
        workload.kind === 'Pod'
          ? podObject(group.pods[0]!)
          : { apiVersion: apiVersionOf(workload.kind), kind: workload.kind, name: workload.name, namespace };
      this.report(
        involved,
        'not-restartable',
        `${describePods(group.pods)} asked for ${asks} but ${group.pods.length === 1 ? 'was' : 'were'} admitted without injection (podpattern was not reachable); a ${workload.kind} is not restarted by podpattern: delete and create ${group.pods.length === 1 ? 'it' : 'them'} again to inject`,
      );
      result.reported.push(label);
    }
  }

  /** A restart within the rate: at most restartsPerMinute in any 60 s. */
  private takeRestart(): boolean {
    const now = this.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! >= 60_000) this.restarts.shift();
    if (this.restarts.length >= this.options.restartsPerMinute) return false;
    this.restarts.push(now);
    return true;
  }

  private reportOnce(key: string): boolean {
    if (this.reportedKeys.has(key)) return false;
    if (this.reportedKeys.size >= MAX_REMEMBERED) this.reportedKeys.delete(this.reportedKeys.values().next().value as string);
    this.reportedKeys.add(key);
    return true;
  }

  private report(involved: InvolvedObject, reason: ReportReason, text: string): void {
    this.options.metrics.reported(involved.kind, reason);
    const eventReason = EVENT_REASONS[reason];
    this.options.events.record({ type: 'Warning', reason: eventReason, involved, key: 'heal', message: text });
    this.options.logger.warn({ namespace: involved.namespace, object: `${involved.kind}/${involved.name}`, reason }, text);
  }
}

const EVENT_REASONS = {
  'not-restartable': 'NotInjected',
  'still-missed': 'StillNotInjected',
  'restart-failed': 'RestartFailed',
  'would-be-denied': 'HealBlocked',
} as const;

function podObject(pod: PodMeta): InvolvedObject {
  return { apiVersion: 'v1', kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid };
}

function apiVersionOf(kind: string): string {
  if (kind === 'Job' || kind === 'CronJob') return 'batch/v1';
  if (kind === 'ReplicaSet') return 'apps/v1';
  return 'v1';
}

function describePods(pods: PodMeta[]): string {
  const names = pods
    .slice(0, 3)
    .map((p) => p.name)
    .join(', ');
  return pods.length === 1 ? `pod ${names}` : `${pods.length} pods (${names}${pods.length > 3 ? ', ...' : ''})`;
}

/** An API server's refusal as its own message (the Status body's), else the error's; bounded. */
export function message(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'body' in error) {
    const body = (error as { body?: unknown }).body;
    try {
      const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
      if (typeof parsed?.message === 'string') return parsed.message.slice(0, 1024);
    } catch {
      // not JSON: the error's own message below
    }
  }
  return (error instanceof Error ? error.message : String(error)).slice(0, 1024);
}
