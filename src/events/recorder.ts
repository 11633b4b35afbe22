// Kubernetes Events for admission decisions, recorded off the review path. A review only calls
// record(), which counts and queues in memory; the API writes happen later, one at a time, so a
// slow or failing API server never delays an answer. Events are rate-limited by key (owner,
// reason, what was injected or why it was denied): a ReplicaSet scaling to 100 replicas gives
// one Event at once and one summary with the rest counted at the end of the window, not 100.
// Each namespace also has a budget of Events (a token bucket): a flood of distinct owners in one
// namespace spends its own budget and nothing else, and the tables of keys and namespaces are
// bounded with least-recently-used eviction, so a full table never turns away another
// namespace's Events.
import type { Logger } from 'pino';

/** The object an Event is about: the pod's controller, or its Namespace when the pod has none. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** The Event's namespace; for a Namespace object, the namespace itself. */
  namespace: string;
  uid?: string;
}

export interface ReviewEvent {
  type: 'Normal' | 'Warning';
  /**
   * Reviews' Injected and Denied; healing's RestartedForInjection, NotInjected, StillNotInjected,
   * RestartFailed and HealBlocked; rollouts' RolloutRestarted, RolloutHealthCheckFailed,
   * RolloutRestartRefused, RolloutPaused and RolloutPromoted.
   */
  reason:
    | 'Injected'
    | 'Denied'
    | 'RestartedForInjection'
    | 'NotInjected'
    | 'StillNotInjected'
    | 'RestartFailed'
    | 'HealBlocked'
    | 'RolloutRestarted'
    | 'RolloutHealthCheckFailed'
    | 'RolloutRestartRefused'
    | 'RolloutPaused'
    | 'RolloutPromoted';
  involved: InvolvedObject;
  /** What the Events of one window have in common (the templates, or the denial reason). */
  key: string;
  message: string;
}

/** One Event to create: the event, how many reviews it stands for, and when the first was. */
export interface EventWrite {
  event: ReviewEvent;
  count: number;
  first: Date;
  last: Date;
}

/** Creates one Event in the cluster (kube-writer.ts; a fake in tests). */
export type EventWriter = (write: EventWrite) => Promise<void>;

export interface EventSink {
  record(event: ReviewEvent): void;
}

export interface EventRecorderOptions {
  writer: EventWriter;
  logger: Logger;
  /** The window of the rate limit: one Event per key at once, the rest summed at its end. Default 5 minutes. */
  windowMs?: number;
  /** Writes waiting beyond this are dropped (and logged): a bound on memory when the API server is down. */
  maxPending?: number;
  /** Keys tracked at once; a new key beyond it evicts the least recently used one. */
  maxKeys?: number;
  /** Events a namespace may write at once (its bucket's size). Default 30. */
  namespaceBurst?: number;
  /** Milliseconds to earn one more Event back, per namespace. Default 2 s (30 a minute). */
  namespaceRefillMs?: number;
  /** Namespaces whose budgets are kept; the least recently used is forgotten beyond it. */
  maxNamespaces?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Window {
  event: ReviewEvent;
  opened: number;
  /** Reviews since the last Event written for this key. */
  suppressed: number;
  firstSuppressed: number;
  lastSuppressed: number;
}

export class EventRecorder implements EventSink {
  // Maps iterate in insertion order: a key re-inserted on use moves to the end, so the first
  // entry is always the least recently used.
  private readonly windows = new Map<string, Window>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly pending: EventWrite[] = [];
  private readonly writer: EventWriter;
  private readonly logger: Logger;
  private readonly windowMs: number;
  private readonly maxPending: number;
  private readonly maxKeys: number;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly maxNamespaces: number;
  private readonly now: () => number;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;

  constructor(options: EventRecorderOptions) {
    this.writer = options.writer;
    this.logger = options.logger;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.maxPending = options.maxPending ?? 100;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.burst = options.namespaceBurst ?? 30;
    this.refillMs = options.namespaceRefillMs ?? 2_000;
    this.maxNamespaces = options.maxNamespaces ?? 2_000;
    this.now = options.now ?? Date.now;
  }

  /** Sweeps the windows every windowMs (an unref'd timer: it never keeps the process up). */
  start(): void {
    this.timer ??= setInterval(() => this.sweep(), this.windowMs);
    this.timer.unref();
  }

  /** Stops sweeping and waits for the writes already queued. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  record(event: ReviewEvent): void {
    const now = this.now();
    const key = `${event.involved.namespace}\u0000${event.involved.kind}\u0000${event.involved.name}\u0000${event.reason}\u0000${event.key}`;
    const window = this.windows.get(key);
    if (window !== undefined && now - window.opened < this.windowMs) {
      if (window.suppressed === 0) window.firstSuppressed = now;
      window.suppressed += 1;
      window.lastSuppressed = now;
      window.event = event;
      this.windows.delete(key);
      this.windows.set(key, window);
      return;
    }
    // A write is due: it is paid for from the namespace's budget, or dropped.
    if (!this.spend(event.involved.namespace, now)) {
      this.drop();
      return;
    }
    this.windows.delete(key);
    if (this.windows.size >= this.maxKeys) this.evictOldest(this.windows);
    this.windows.set(key, { event, opened: now, suppressed: 0, firstSuppressed: now, lastSuppressed: now });
    this.enqueue({ event, count: 1, first: new Date(now), last: new Date(now) });
  }

  /** Windows tracked now (bounded by maxKeys). */
  tracked(): number {
    return this.windows.size;
  }

  /** Takes one token from the namespace's bucket, refilled at one per refillMs up to the burst. */
  private spend(namespace: string, now: number): boolean {
    let bucket = this.buckets.get(namespace);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxNamespaces) this.evictOldest(this.buckets);
      bucket = { tokens: this.burst, at: now };
    } else {
      this.buckets.delete(namespace);
      const earned = Math.floor((now - bucket.at) / this.refillMs);
      if (earned > 0)
        bucket = {
          tokens: Math.min(this.burst, bucket.tokens + earned),
          at: bucket.tokens + earned >= this.burst ? now : bucket.at + earned * this.refillMs,
        };
    }
    this.buckets.set(namespace, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private evictOldest(map: Map<string, unknown>): void {
    const oldest = map.keys().next();
    if (oldest.done !== true) map.delete(oldest.value);
  }

  /**
   * Ends the windows that are over: each with suppressed reviews becomes one Event that counts
   * them (and opens a new window); idle ones are forgotten, so the map holds only active keys.
   */
  sweep(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (now - window.opened < this.windowMs) continue;
      if (window.suppressed === 0) {
        this.windows.delete(key);
        continue;
      }
      this.enqueue({
        event: window.event,
        count: window.suppressed,
        first: new Date(window.firstSuppressed),
        last: new Date(window.lastSuppressed),
      });
      this.windows.set(key, { event: window.event, opened: now, suppressed: 0, firstSuppressed: now, lastSuppressed: now });
    }
  }

  /** Resolves once every queued write has been attempted. */
  async idle(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private enqueue(write: EventWrite): void {
    if (this.pending.length >= this.maxPending) {
      this.drop();
      return;
    }
    this.pending.push(write);
    this.writing ??= this.drain();
  }

  private async drain(): Promise<void> {
    // Off the review path: the first write starts after the answer has been sent.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      for (let write = this.pending.shift(); write !== undefined; write = this.pending.shift()) {
        try {
          await this.writer(write);
        } catch (error) {
          this.logger.warn(
            {
              err: (error as Error).message,
              reason: write.event.reason,
              involved: `${write.event.involved.kind}/${write.event.involved.name}`,
              namespace: write.event.involved.namespace,
            },
            'cannot create Event',
          );
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private drop(): void {
    this.dropped += 1;
    // One line per power of two: a flood is visible without flooding the log in turn.
    if ((this.dropped & (this.dropped - 1)) === 0)
      this.logger.warn({ dropped: this.dropped }, 'Events dropped: too many pending or distinct');
  }
}
