// Kubernetes Events for admission decisions, recorded off the review path. A review only calls
// record(), which counts and queues in memory; the API writes happen later, one at a time, so a
// slow or failing API server never delays an answer. Events are rate-limited by key (owner,
// reason, what was injected or why it was denied): a ReplicaSet scaling to 100 replicas gives
// one Event at once and one summary with the rest counted at the end of the window, not 100.
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
  reason: 'Injected' | 'Denied';
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
  /** Keys tracked at once; new keys beyond it are dropped until the next sweep. */
  maxKeys?: number;
  now?: () => number;
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
  private readonly windows = new Map<string, Window>();
  private readonly pending: EventWrite[] = [];
  private readonly writer: EventWriter;
  private readonly logger: Logger;
  private readonly windowMs: number;
  private readonly maxPending: number;
  private readonly maxKeys: number;
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
      return;
    }
    if (window === undefined && this.windows.size >= this.maxKeys) {
      this.drop();
      return;
    }
    this.windows.set(key, { event, opened: now, suppressed: 0, firstSuppressed: now, lastSuppressed: now });
    this.enqueue({ event, count: 1, first: new Date(now), last: new Date(now) });
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
      this.enqueue({ event: window.event, count: window.suppressed, first: new Date(window.firstSuppressed), last: new Date(window.lastSuppressed) });
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
          this.logger.warn({ err: (error as Error).message, reason: write.event.reason, involved: `${write.event.involved.kind}/${write.event.involved.name}`, namespace: write.event.involved.namespace }, 'cannot create Event');
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private drop(): void {
    this.dropped += 1;
    // One line per power of two: a flood is visible without flooding the log in turn.
    if ((this.dropped & (this.dropped - 1)) === 0) this.logger.warn({ dropped: this.dropped }, 'Events dropped: too many pending or distinct');
  }
}
