// Answers a review again, for a new uid, without parsing it again.
//
// The API server sends the replicas of a ReplicaSet as the same AdmissionReview but for
// request.uid: mutating admission runs before the pod is named, so the pod has only its
// generateName, and the user, options and namespace are those of the one controller. The pod's
// metadata.managedFields carries its creation time to the second, so the replicas of a
// scale-up created within one second (the controller creates them in concurrent batches) are
// byte-identical bodies but for 36 characters; test/e2e/live-catalog.test.ts shows it against
// a real kube-apiserver. Parsing the body is a good share of what answering costs once the
// engine's result is remembered (memo.ts), so this cache keeps answers by the raw body with its
// uid cut out.
//
// Why a hit is the same review: a body is split at its first `"uid":"` into head, uid and tail.
// An entry answers only after a parse of head + SENTINEL + tail has given request.uid ===
// SENTINEL, so that string literal is the request's uid and no later key overrides it. A JSON
// string made only of [A-Za-z0-9._:-] can be swapped for another such string without changing
// how the text around it parses, so every body head + u + tail is the first review with
// request.uid = u. Anything else (an escaped uid, a duplicate key, a body that is not JSON) is
// parsed as usual.
import type { Decision, ReviewFacts } from './review.js';
import type { AdmissionApiVersion } from './types.js';

export interface Replayed {
  apiVersion: AdmissionApiVersion;
  facts: ReviewFacts;
  decision: Decision;
}

export interface ReplayOptions {
  /** Most answers kept; the oldest goes first. Default 256. */
  maxEntries?: number;
  /** Longer bodies are not kept: bounds memory to about maxEntries x this. Default 16 KiB. */
  maxBodyBytes?: number;
}

/**
 * What else a decision depended on, for a namespace: the catalog snapshot, the namespace's
 * annotations, the API server's version. Compared by identity: a change makes a new object.
 */
export type ReplayInputs = (namespace: string | undefined) => readonly unknown[];

/** A body split at its uid (see ReplayCache.lookup). */
export interface Lookup {
  /** The body with its uid cut out: what an answer is kept under. */
  readonly key: string;
  /** The body's own uid. */
  readonly uid: string;
  /** The remembered answer, or undefined: decide, then remember. */
  readonly answer: Replayed | undefined;
}

interface Entry {
  answer: Replayed;
  inputs: readonly unknown[];
  /** Whether the split is proven to be at request.uid (checked on the first reuse, so pods seen once pay nothing). */
  checked: boolean;
}

const UID_MARK = '"uid":"';
const REPLAYABLE_UID = /^[A-Za-z0-9._:-]{1,128}$/;
const SENTINEL = 'podpattern-replay-check-7f3c9a10';

export class ReplayCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxBodyBytes: number;

  constructor(options: ReplayOptions = {}) {
    this.maxEntries = options.maxEntries ?? 256;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Splits `body` at its uid and looks for a remembered answer; undefined for a body this cache
   * does not keep (then parse and decide as usual). `answer`, when there is one, is the object
   * remembered (the same on every hit, so callers can key their own per-answer work on it) and
   * carries the first body's uid: the caller answers with `uid`. Without one, decide, then
   * `remember` the answer under this lookup.
   */
  lookup(body: string, inputs: ReplayInputs): Lookup | undefined {
    const split = this.split(body);
    if (split === undefined) return undefined;
    const { key, uid } = split;
    const entry = this.entries.get(key);
    if (entry === undefined) return { key, uid, answer: undefined };
    const current = sameInputs(entry.inputs, inputs(entry.answer.facts.namespace));
    if (current && !entry.checked) entry.checked = uidIsAt(split.head, split.tail);
    if (!current || !entry.checked) {
      this.entries.delete(key);
      return { key, uid, answer: undefined };
    }
    return { key, uid, answer: entry.answer };
  }

  /** Keeps the answer decided for a looked-up body. Failures are not kept: the next attempt may succeed. */
  remember(lookup: Lookup, inputs: ReplayInputs, replayed: Replayed): void {
    if (replayed.decision.outcome === 'error' || lookup.uid !== replayed.facts.uid || this.entries.has(lookup.key)) return;
    this.entries.set(lookup.key, { answer: replayed, inputs: inputs(replayed.facts.namespace), checked: false });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  private split(body: string): { key: string; head: string; uid: string; tail: string } | undefined {
    if (body.length > this.maxBodyBytes) return undefined;
    const mark = body.indexOf(UID_MARK);
    if (mark === -1) return undefined;
    const start = mark + UID_MARK.length;
    const end = body.indexOf('"', start);
    if (end === -1) return undefined;
    const uid = body.slice(start, end);
    if (!REPLAYABLE_UID.test(uid)) return undefined;
    const head = body.slice(0, start);
    const tail = body.slice(end);
    return { key: head + tail, head, uid, tail };
  }
}

/** Whether the string literal between head and tail is what JSON.parse makes request.uid. */
function uidIsAt(head: string, tail: string): boolean {
  if (head.includes(SENTINEL) || tail.includes(SENTINEL)) return false;
  try {
    const parsed = JSON.parse(head + SENTINEL + tail) as { request?: { uid?: unknown } } | null;
    return parsed?.request?.uid === SENTINEL;
  } catch {
    return false;
  }
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
