// What the live catalog needs of a Kubernetes informer, and the restart and readiness rules
// around one. @kubernetes/client-node's informers recover from expired watches by themselves
// but stop on other errors: SyncedInformer restarts them with backoff and says `synced` only
// once a list has been applied and the watch is open again. Taking the informer as this small
// interface lets tests drive the catalog with a fake one (see kube.ts for the real one).
import type { Logger } from 'pino';

export interface InformerLike<T> {
  on(event: 'add' | 'update' | 'delete', callback: (object: T) => void): void;
  on(event: 'error', callback: (error: unknown) => void): void;
  /**
   * Runs `callback` each time a list has been applied, after all the add, update and delete
   * events it caused. Not on 'connect': client-node emits that before it lists.
   */
  onListed(callback: () => void): void;
  /** Resolves once the informer has listed (when it had to) and its watch is open; rejects when the first list fails. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The cached object of that name (cluster-scoped objects), if any. */
  get(name: string): T | undefined;
}

export interface SyncedInformerOptions {
  /** The informer's name in logs: `templates`, `namespaces`. */
  name: string;
  logger: Logger;
  /** Runs after a list has been applied and before `synced` turns true. */
  onListed?: () => void;
  /** The longest wait between restarts after errors (default 30 s). */
  maxBackoffMs?: number;
}

export class SyncedInformer<T> {
  private isSynced = false;
  /** Restarts in a row without a successful start: the backoff grows with them. */
  private failures = 0;
  private listedOnce = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly informer: InformerLike<T>,
    private readonly options: SyncedInformerOptions,
  ) {
    informer.onListed(() => {
      if (this.stopped) return;
      options.onListed?.();
      this.listedOnce = true;
      this.markSynced();
    });
    informer.on('error', (error) => this.restartLater(error));
  }

  /** True once a list has been applied and the watch is open, until the next error. */
  get synced(): boolean {
    return this.isSynced;
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      // A restart after an error resumes the watch from the last version seen, without a list.
      await this.informer.start();
      if (!this.stopped && this.listedOnce) this.markSynced();
    } catch (error) {
      // start() rejects when the first list fails; the informer's error handler restarts it.
      this.options.logger.warn({ informer: this.options.name, err: errorText(error) }, 'informer could not list');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await this.informer.stop();
  }

  private restartLater(error: unknown): void {
    this.isSynced = false;
    if (this.stopped) return;
    this.failures += 1;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(this.failures, 10));
    this.options.logger.warn({ informer: this.options.name, err: errorText(error), retryInMs: delay }, 'informer stopped; restarting');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.start();
    }, delay);
    this.timers.add(timer);
  }

  private markSynced(): void {
    this.failures = 0;
    if (!this.isSynced) this.options.logger.info({ informer: this.options.name }, 'informer synced');
    this.isSynced = true;
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
