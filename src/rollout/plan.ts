// Pure decisions of the rollout controller: a template's spec.rollout with its defaults, the
// record of the rollout it keeps in the template's status, which hash each namespace should run,
// and whether a restarted workload's rollout has finished, judged as `kubectl rollout status`
// judges it (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go). No I/O: controller.ts
// asks the API.
import type { V1LabelSelector } from '#kube';
import type { Condition } from '../catalog/template-watch.js';
import { ROLLOUT_BOUNDS } from '../catalog/crd-schema.js';
import { readStatus } from '../engine/status.js';
import type { RestartableKind } from '../heal/missed.js';
import { ROLLOUT_PAUSED_KEY, PROMOTED_LABEL } from '../model/keys.js';
import { MAX_RESTARTED, RESTART_RESULTS, ROLLOUT_PHASES, type RestartResult, type RolloutPhase } from '../model/rollout.js';
import { selectorMatches } from '../model/label-selector.js';

export { MAX_RESTARTED, PROMOTED_LABEL, ROLLOUT_PAUSED_KEY as PAUSED_KEY };
/** The condition the controller keeps on the template. */
export const PAUSED_CONDITION = 'RolloutPaused';
/** The longest pause reason written: an annotation is for people, not logs. */
export const MAX_REASON = 512;

export interface RolloutSettings {
  restart: 'manual' | 'auto';
  canary: { namespaceSelector: V1LabelSelector; soakMs: number } | undefined;
  maxConcurrent: number;
  healthTimeoutMs: number;
  maxInjectedRestarts: number;
}

/** The defaults the CRD's descriptions give. */
export const DEFAULTS = { soakSeconds: 600, maxConcurrent: 1, healthTimeoutSeconds: 600, maxInjectedRestarts: 0 } as const;

/**
 * spec.rollout with its defaults. The API server holds it to the CRD's schema; a value out of
 * the bounds anyway (a CRD installed by hand) is brought within them, never trusted as is.
 */
export function rolloutSettings(rollout: unknown): RolloutSettings {
  const r = (typeof rollout === 'object' && rollout !== null ? rollout : {}) as Record<string, unknown>;
  const int = (value: unknown, fallback: number, bounds: { minimum: number; maximum: number }): number =>
    typeof value === 'number' && Number.isFinite(value) ? Math.min(bounds.maximum, Math.max(bounds.minimum, Math.trunc(value))) : fallback;
  const canary = (typeof r.canary === 'object' && r.canary !== null ? r.canary : undefined) as
    { namespaceSelector?: unknown; soakSeconds?: unknown } | undefined;
  const selector = canary?.namespaceSelector;
  return {
    restart: r.restart === 'auto' ? 'auto' : 'manual',
    canary:
      canary === undefined || typeof selector !== 'object' || selector === null
        ? undefined
        : {
            namespaceSelector: selector,
            soakMs: int(canary.soakSeconds, DEFAULTS.soakSeconds, ROLLOUT_BOUNDS.soakSeconds) * 1000,
          },
    maxConcurrent: int(r.maxConcurrent, DEFAULTS.maxConcurrent, ROLLOUT_BOUNDS.maxConcurrent),
    healthTimeoutMs: int(r.healthTimeoutSeconds, DEFAULTS.healthTimeoutSeconds, ROLLOUT_BOUNDS.healthTimeoutSeconds) * 1000,
    maxInjectedRestarts: int(r.maxInjectedRestarts, DEFAULTS.maxInjectedRestarts, ROLLOUT_BOUNDS.maxInjectedRestarts),
  };
}

export function isCanaryNamespace(settings: RolloutSettings, labels: Readonly<Record<string, string>> | undefined): boolean {
  return settings.canary !== undefined && labels !== undefined && selectorMatches(settings.canary.namespaceSelector, { ...labels });
}

// --- The record in status.rollout.

export interface RestartEntry {
  kind: string;
  namespace: string;
  name: string;
  /** The template hash the restart was for (what its new pods should record). */
  hash: string;
  /** When it was restarted (or reported), RFC 3339. */
  at: string;
  result: RestartResult;
  message?: string;
}

export interface RolloutStatus {
  /** The template's content hash now. */
  revision: string;
  /** The promoted revision's hash, when a revision is promoted. */
  promoted?: string;
  phase: RolloutPhase;
  /** When `revision` became current, RFC 3339: only restarts since count for it. */
  since: string;
  /** When the canary's soak began, RFC 3339 (kept here so a new leader goes on from it). */
  soakSince?: string;
  restarted: RestartEntry[];
  message: string;
}

const MAX_TEXT = 1024;

/** status.rollout read back; undefined when absent or not the controller's. Tolerant: a field that does not fit is dropped. */
export function readRolloutStatus(value: unknown): RolloutStatus | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const revision = text(v.revision);
  const phase = ROLLOUT_PHASES.find((p) => p === v.phase);
  if (revision === undefined || phase === undefined) return undefined;
  const restarted = (Array.isArray(v.restarted) ? v.restarted.slice(0, MAX_RESTARTED * 4) : [])
    .map(readEntry)
    .filter((e): e is RestartEntry => e !== undefined);
  const promoted = text(v.promoted);
  const since = date(v.since);
  const soakSince = date(v.soakSince);
  return {
    revision,
    ...(promoted === undefined ? {} : { promoted }),
    phase,
    since: since ?? new Date(0).toISOString(),
    ...(soakSince === undefined ? {} : { soakSince }),
    restarted,
    message: text(v.message) ?? '',
  };
}

const text = (x: unknown): string | undefined => (typeof x === 'string' && x.length <= MAX_TEXT ? x : undefined);
const date = (x: unknown): string | undefined => {
  const t = text(x);
  return t !== undefined && !Number.isNaN(Date.parse(t)) ? t : undefined;
};

function readEntry(item: unknown): RestartEntry | undefined {
  const e = (item ?? {}) as Record<string, unknown>;
  const [kind, namespace, name, hash, at] = [text(e.kind), text(e.namespace), text(e.name), text(e.hash), date(e.at)];
  const result = RESTART_RESULTS.find((r) => r === e.result);
  if (
    kind === undefined ||
    namespace === undefined ||
    name === undefined ||
    hash === undefined ||
    at === undefined ||
    result === undefined
  ) {
    return undefined;
  }
  const message = text(e.message);
  return { kind, namespace, name, hash, at, result, ...(message === undefined ? {} : { message }) };
}

/** The entries kept: every restart in flight, then the newest finished ones up to MAX_RESTARTED in all. */
export function trimRestarted(entries: readonly RestartEntry[]): RestartEntry[] {
  const flying = entries.filter((e) => e.result === 'restarting');
  const finished = entries.filter((e) => e.result !== 'restarting').sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const room = Math.max(0, MAX_RESTARTED - flying.length);
  const kept = new Set([...flying, ...finished.slice(Math.max(0, finished.length - room))]);
  return entries.filter((e) => kept.has(e));
}

/** One line, bounded: what goes into the pause annotation and the condition. */
export function oneLine(text: string, max = MAX_REASON): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

// --- The health gate.

/** What the controller reads of a restarted workload. */
export interface WorkloadState {
  kind: RestartableKind;
  uid: string;
  generation: number;
  resourceVersion: string;
  /** Its pod selector as a label selector string; undefined when it has none the API can take. */
  selector: string | undefined;
  spec: { replicas?: number; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } } };
  status: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
  };
}

export type Progress = { state: 'done' } | { state: 'waiting'; why: string } | { state: 'failed'; why: string };

/**
 * Why a restart would not roll the workload's pods (kubectl rollout status refuses to judge
 * those too): a StatefulSet or DaemonSet with the OnDelete strategy replaces a pod only when
 * someone deletes it. Undefined when a restart rolls it.
 */
export function notRolled(workload: WorkloadState): string | undefined {
  if (workload.kind === 'Deployment') return undefined;
  const type = workload.spec.updateStrategy?.type ?? 'RollingUpdate';
  return type === 'RollingUpdate' ? undefined : `its update strategy is ${type}: a restart replaces no pod until someone deletes it`;
}

/** Whether the workload's rollout has finished, as kubectl rollout status says it. */
export function rolloutProgress(w: WorkloadState): Progress {
  if (w.kind === 'Deployment') return deploymentProgress(w);
  if (w.kind === 'StatefulSet') return statefulSetProgress(w);
  return daemonSetProgress(w);
}

const n = (x: number | undefined): number => x ?? 0;

function deploymentProgress(w: WorkloadState): Progress {
  const s = w.status;
  if (s.observedGeneration === undefined || w.generation > s.observedGeneration) {
    return { state: 'waiting', why: 'waiting for the Deployment controller to see the restart' };
  }
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      state: 'failed',
      why: `its progress deadline was exceeded${progressing.message === undefined ? '' : `: ${progressing.message}`}`,
    };
  }
  if (w.spec.replicas !== undefined && n(s.updatedReplicas) < w.spec.replicas) {
    return { state: 'waiting', why: `${n(s.updatedReplicas)} of ${w.spec.replicas} new replicas have been updated` };
  }
  if (n(s.replicas) > n(s.updatedReplicas)) {
    return { state: 'waiting', why: `${n(s.replicas) - n(s.updatedReplicas)} old replicas are pending termination` };
  }
  if (n(s.availableReplicas) < n(s.updatedReplicas)) {
    return { state: 'waiting', why: `${n(s.availableReplicas)} of ${n(s.updatedReplicas)} updated replicas are available` };
  }
  return { state: 'done' };
}

function statefulSetProgress(w: WorkloadState): Progress {
  const s = w.status;
  if (s.observedGeneration === undefined || s.observedGeneration === 0 || w.generation > s.observedGeneration) {
    return { state: 'waiting', why: 'waiting for the StatefulSet controller to see the restart' };
  }
  if (w.spec.replicas !== undefined && n(s.readyReplicas) < w.spec.replicas) {
    return { state: 'waiting', why: `${n(s.readyReplicas)} of ${w.spec.replicas} pods are ready` };
  }
  const partition = w.spec.updateStrategy?.rollingUpdate?.partition;
  if (partition !== undefined && partition > 0) {
    if (w.spec.replicas !== undefined && n(s.updatedReplicas) < w.spec.replicas - partition) {
      return {
        state: 'waiting',
        why: `${n(s.updatedReplicas)} of ${w.spec.replicas - partition} pods above the partition have been updated`,
      };
    }
    return { state: 'done' };
  }
  if (s.updateRevision !== s.currentRevision) return { state: 'waiting', why: `${n(s.updatedReplicas)} pods at the new revision` };
  return { state: 'done' };
}

function daemonSetProgress(w: WorkloadState): Progress {
  const s = w.status;
  if (s.observedGeneration === undefined || w.generation > s.observedGeneration) {
    return { state: 'waiting', why: 'waiting for the DaemonSet controller to see the restart' };
  }
  if (n(s.updatedNumberScheduled) < n(s.desiredNumberScheduled)) {
    return { state: 'waiting', why: `${n(s.updatedNumberScheduled)} of ${n(s.desiredNumberScheduled)} updated pods have been scheduled` };
  }
  if (n(s.numberAvailable) < n(s.desiredNumberScheduled)) {
    return { state: 'waiting', why: `${n(s.numberAvailable)} of ${n(s.desiredNumberScheduled)} updated pods are available` };
  }
  return { state: 'done' };
}

/** What the gate reads of a pod: its annotations (podpattern.dev/status), whether it is being deleted, its containers' restart counts. */
export interface PodState {
  name: string;
  annotations: Readonly<Record<string, string>>;
  terminating: boolean;
  restarts: ReadonlyArray<{ name: string; restartCount: number }>;
}

export interface InjectedCount {
  /** Pods (not being deleted) that record `hash`. */
  pods: number;
  /** Pods (not being deleted) that record another hash of the template. */
  others: number;
  /** Restarts of the injected containers of the pods that record `hash`, all told. */
  restarts: number;
  /** The container that restarted most, for the message. */
  worst: string | undefined;
}

/**
 * The pods of a restarted workload that run `template`: how many record `hash` and how many
 * another, and the restarts of the injected containers (init containers included: native
 * sidecars) of those that record `hash`. Pods being deleted are the old ones going: not counted.
 */
export function injectedRestarts(pods: readonly PodState[], template: string, hash: string): InjectedCount {
  const count: InjectedCount = { pods: 0, others: 0, restarts: 0, worst: undefined };
  let most = 0;
  for (const pod of pods) {
    if (pod.terminating) continue;
    const status = readStatus({ ...pod.annotations });
    const runs = status === undefined || status === 'unreadable' ? undefined : status.templates.find((t) => t.name === template);
    if (status === undefined || status === 'unreadable' || runs === undefined) continue;
    if (runs.hash !== hash) {
      count.others += 1;
      continue;
    }
    count.pods += 1;
    const injected = new Set([...status.containers, ...status.initContainers]);
    for (const c of pod.restarts) {
      if (!injected.has(c.name) || !(c.restartCount > 0)) continue;
      count.restarts += c.restartCount;
      if (c.restartCount > most) {
        most = c.restartCount;
        count.worst = `${pod.name}/${c.name} restarted ${c.restartCount} times`;
      }
    }
  }
  return count;
}

/**
 * The RolloutPaused condition the status should carry (True while paused, with the reason;
 * False with the phase), or undefined when `conditions` already carry it as it should be
 * (lastTransitionTime moves only when the status does).
 */
export function pausedCondition(
  status: RolloutStatus,
  conditions: readonly Condition[],
  generation: number | undefined,
  now: number,
): Condition | undefined {
  const old = conditions.find((c) => c.type === PAUSED_CONDITION);
  const paused = status.phase === 'Paused';
  const wanted = {
    type: PAUSED_CONDITION,
    status: paused ? 'True' : 'False',
    reason: paused ? 'Paused' : status.phase,
    message: paused ? status.message : `the rollout is ${status.phase.toLowerCase()}`,
  } as const;
  if (old?.status === wanted.status && old.reason === wanted.reason && old.message === wanted.message) return undefined;
  return {
    ...wanted,
    lastTransitionTime: old?.status === wanted.status ? old.lastTransitionTime : new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}
