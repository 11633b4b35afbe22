// Pure decisions of healing: which pods missed injection, what a workload's record of an
// earlier heal says, and whether to restart, wait or report. No I/O: healer.ts asks the API.
import { HEALED_KEY, INJECT_KEY, PATTERN_KEYS, STATUS_KEY } from '../model/keys.js';
import type { OwnerRef } from '../impact/pod-record.js';

/** What healing reads of a pod (its metadata). */
export interface PodMeta {
  namespace: string;
  name: string;
  uid: string;
  /** creationTimestamp, in milliseconds since the epoch. */
  createdAt: number;
  annotations: Readonly<Record<string, string>>;
  /** Its controller (ownerReferences with controller: true). */
  owner: OwnerRef | undefined;
}

/** The kinds healing restarts, the way `kubectl rollout restart` does. */
export const RESTARTABLE = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type RestartableKind = (typeof RESTARTABLE)[number];

export function isRestartable(kind: string): kind is RestartableKind {
  return (RESTARTABLE as readonly string[]).includes(kind);
}

/**
 * The templates a pod asked for (its pattern annotations, as `key=value`) when it missed
 * injection: it asks, carries no podpattern.dev/status and did not opt out. Undefined otherwise.
 */
export function missedAsks(annotations: Readonly<Record<string, string>>): string[] | undefined {
  if (annotations[STATUS_KEY] !== undefined || annotations[INJECT_KEY] === 'false') return undefined;
  const asks = Object.values(PATTERN_KEYS)
    .filter((key) => annotations[key] !== undefined && annotations[key] !== '')
    .map((key) => `${key}=${annotations[key]}`);
  return asks.length === 0 ? undefined : asks;
}

/** The pods that missed injection and are older than the grace period. */
export function missedPods(pods: readonly PodMeta[], now: number, graceMs: number): PodMeta[] {
  return pods.filter((pod) => now - pod.createdAt >= graceMs && missedAsks(pod.annotations) !== undefined);
}

export interface HealRecord {
  /** When healing restarted the workload (ms since the epoch). */
  at: number;
  /** The workload's generation that restart made. */
  generation: number;
}

/** The longest record read: podpattern writes about 60 bytes; anything longer is not its. */
const MAX_RECORD = 256;

/** podpattern.dev/healed read back; undefined when absent or not a record podpattern wrote. */
export function readHealRecord(annotations: Readonly<Record<string, string>> | undefined): HealRecord | undefined {
  const text = annotations?.[HEALED_KEY];
  if (text === undefined || text.length > MAX_RECORD) return undefined;
  try {
    const value = JSON.parse(text) as { at?: unknown; generation?: unknown };
    const at = typeof value.at === 'string' ? Date.parse(value.at) : Number.NaN;
    if (!Number.isFinite(at) || !Number.isSafeInteger(value.generation) || (value.generation as number) < 0) return undefined;
    return { at, generation: value.generation as number };
  } catch {
    return undefined;
  }
}

export function formatHealRecord(record: HealRecord): string {
  return JSON.stringify({ at: new Date(record.at).toISOString(), generation: record.generation });
}

export type Verdict =
  /** Restart it: never healed, or changed by someone since the last heal. */
  | { action: 'restart' }
  /** Healed, and its missed pods are from before the restart: they are being replaced. */
  | { action: 'wait' }
  /** Healed, and pods made since the restart missed injection too: report, never restart again. */
  | { action: 'report'; since: number };

/**
 * What to do about a restartable workload whose pods (created at `missedCreatedAt`) missed
 * injection, given its record of an earlier heal and its generation now. A workload restarted
 * by healing and not changed since (same generation) is never restarted again: that is what
 * keeps healing from looping when the new pods miss injection too (the webhook is down again,
 * or something else strips the injection).
 */
export function decide(record: HealRecord | undefined, generation: number, missedCreatedAt: readonly number[]): Verdict {
  if (record === undefined || generation > record.generation) return { action: 'restart' };
  const since = missedCreatedAt.filter((at) => at >= record.at);
  return since.length === 0 ? { action: 'wait' } : { action: 'report', since: record.at };
}
