// The workload behind a pod's controller: a Deployment behind a ReplicaSet, a CronJob behind a
// Job. Pods name only their direct controller; the workload is what an operator knows and rolls.
// Looked up in the background, one GET of the controller's metadata each, cached and bounded:
// until a lookup answers, the pod is named by its direct controller, which groups its pods
// the same way, so nothing waits on the API server.
import type { OwnerRef } from './pod-record.js';

/** The controller of `owner` (a ReplicaSet's Deployment), null when it has none. Throws when the API cannot say. */
export type OwnerLookup = (namespace: string, owner: OwnerRef) => Promise<OwnerRef | null>;

/** Controllers whose own controller is the workload: the kinds looked up. */
const LOOKED_UP: Record<string, string> = { ReplicaSet: 'Deployment', Job: 'CronJob' };

export interface OwnerResolverOptions {
  lookup: OwnerLookup;
  /** Answers kept (least recently used dropped beyond it). */
  maxCached?: number;
  /** Lookups waiting at once; more are not queued (asked again at the next check). */
  maxPending?: number;
  /** Lookups in flight at once. */
  concurrency?: number;
  onError?: (error: unknown, namespace: string, owner: OwnerRef) => void;
}

export class OwnerResolver {
  private readonly cache = new Map<string, OwnerRef>();
  private readonly queue = new Map<string, { namespace: string; owner: OwnerRef }>();
  private running = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly maxCached: number;
  private readonly maxPending: number;
  private readonly concurrency: number;

  constructor(private readonly options: OwnerResolverOptions) {
    this.maxCached = options.maxCached ?? 20_000;
    this.maxPending = options.maxPending ?? 1_000;
    this.concurrency = options.concurrency ?? 4;
  }

  /** Lookups queued or in flight. */
  get pending(): number {
    return this.queue.size + this.running;
  }

  /**
   * The workload of a pod whose controller is `owner`: known, or `owner` itself for now (a
   * lookup is queued when the kind has a workload above it).
   */
  workload(namespace: string, owner: OwnerRef): OwnerRef {
    if (LOOKED_UP[owner.kind] === undefined) return owner;
    const key = `${namespace}/${owner.kind}/${owner.name}`;
    const known = this.cache.get(key);
    if (known !== undefined) {
      this.cache.delete(key);
      this.cache.set(key, known);
      return known;
    }
    if (!this.queue.has(key) && this.queue.size < this.maxPending) {
      this.queue.set(key, { namespace, owner });
      this.pump();
    }
    return owner;
  }

  /** Resolves once no lookup is queued or in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.size > 0) {
      const [key, job] = this.queue.entries().next().value as [string, { namespace: string; owner: OwnerRef }];
      this.queue.delete(key);
      this.running += 1;
      void this.resolve(key, job.namespace, job.owner).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.pending === 0) for (const wake of this.waiters.splice(0)) wake();
      });
    }
  }

  private async resolve(key: string, namespace: string, owner: OwnerRef): Promise<void> {
    try {
      const above = await this.options.lookup(namespace, owner);
      // Only the workload kind expected above it counts: anything else names the pod by its controller.
      const workload = above !== null && above.kind === LOOKED_UP[owner.kind] ? above : owner;
      this.cache.set(key, workload);
      if (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    } catch (error) {
      this.options.onError?.(error, namespace, owner);
    }
  }
}
