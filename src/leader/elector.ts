// Leader election on a coordination.k8s.io/v1 Lease, so that of podpattern's replicas exactly
// one runs the controllers (healing, rollouts) while every replica keeps serving reviews.
// @kubernetes/client-node (1.4) ships the Lease type and its API but no elector, so this is the
// algorithm client-go's leaderelection package documents
// (https://pkg.go.dev/k8s.io/client-go/tools/leaderelection): a candidate takes the Lease when
// its holder has not renewed it for leaseDurationSeconds *as measured on the candidate's own
// clock* since the candidate last saw the record change (so clocks need not agree), every write
// is conditional on the resourceVersion read (two candidates never both win), the leader renews
// every retry period and steps down when it could not renew within the renew deadline, and on
// a clean stop it gives the Lease up (holder emptied) so the next replica need not wait.
import type { Logger } from 'pino';

export interface LeaseRecord {
  holder: string;
  leaseDurationSeconds: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions: number;
  /** The version read; a write with it fails with a conflict when the Lease changed since. */
  resourceVersion?: string;
}

/** The Lease in the API (lease-kube.ts); a write with a stale resourceVersion rejects. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

export interface ElectorOptions {
  store: LeaseStore;
  /** This replica's name (its pod name). */
  identity: string;
  logger: Logger;
  /** How long a Lease not renewed stays its holder's (client-go's default 15 s). */
  leaseSeconds?: number;
  /** A leader that could not renew for this long steps down (default 10 s; below leaseSeconds). */
  renewDeadlineSeconds?: number;
  /** Between attempts to acquire or renew (default 2 s). */
  retrySeconds?: number;
  now?: () => number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private leading = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;
  private attempt: Promise<void> | undefined;
  private readonly leaseMs: number;
  private readonly deadlineMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ElectorOptions) {
    this.leaseMs = (options.leaseSeconds ?? 15) * 1000;
    this.deadlineMs = (options.renewDeadlineSeconds ?? 10) * 1000;
    this.retryMs = (options.retrySeconds ?? 2) * 1000;
    this.now = options.now ?? Date.now;
    if (!(this.retryMs < this.deadlineMs && this.deadlineMs < this.leaseMs)) {
      throw new Error(
        `leader election needs retry (${this.retryMs} ms) < renew deadline (${this.deadlineMs} ms) < lease duration (${this.leaseMs} ms)`,
      );
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops trying; a leader steps down and gives the Lease up. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt;
    if (!this.leading) return;
    this.stepDown('stopping');
    await this.release();
  }

  /** One attempt now (the loop's body; tests drive it with their own clock). */
  async tick(): Promise<void> {
    const won = await this.tryAcquireOrRenew().catch((error: unknown) => {
      this.options.logger.warn(
        { lease: this.options.identity, err: error instanceof Error ? error.message : String(error) },
        'cannot read or write the leader Lease',
      );
      return false;
    });
    if (this.stopped) return;
    const now = this.now();
    if (won) {
      this.lastRenew = now;
      if (!this.leading) {
        this.leading = true;
        this.options.logger.info({ identity: this.options.identity }, 'leading: the controllers run in this replica');
        this.options.onStartedLeading();
      }
    } else if (this.leading && now - this.lastRenew >= this.deadlineMs) {
      this.stepDown(`the Lease was not renewed within ${this.deadlineMs / 1000} s`);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.attempt = this.tick().finally(() => {
        this.attempt = undefined;
        this.schedule(this.retryMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private stepDown(why: string): void {
    this.leading = false;
    this.options.logger.warn({ identity: this.options.identity, why }, 'no longer leading: the controllers stop in this replica');
    this.options.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { store, identity } = this.options;
    const now = this.now();
    const current = await store.get();
    const leaseDurationSeconds = this.leaseMs / 1000;
    if (current === undefined) {
      await store.create({
        holder: identity,
        leaseDurationSeconds,
        acquireTime: new Date(now),
        renewTime: new Date(now),
        leaseTransitions: 0,
      });
      return true;
    }
    // A record seen to change restarts the holder's time, on this replica's clock.
    const key = `${current.holder}\u0000${current.renewTime?.getTime() ?? ''}\u0000${current.resourceVersion ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const heldByOther = current.holder !== '' && current.holder !== identity;
    const expiresAt = this.observed.at + Math.max(1, current.leaseDurationSeconds) * 1000;
    if (heldByOther && now < expiresAt) return false;
    const mine = current.holder === identity;
    const next: LeaseRecord = {
      holder: identity,
      leaseDurationSeconds,
      acquireTime: mine && current.acquireTime !== undefined ? current.acquireTime : new Date(now),
      renewTime: new Date(now),
      leaseTransitions: mine ? current.leaseTransitions : current.leaseTransitions + 1,
      ...(current.resourceVersion === undefined ? {} : { resourceVersion: current.resourceVersion }),
    };
    const written = await store.update(next);
    this.observed = { key: `${written.holder}\u0000${written.renewTime?.getTime() ?? ''}\u0000${written.resourceVersion ?? ''}`, at: now };
    return true;
  }

  /** Empties the holder, as client-go's ReleaseOnCancel does, so another replica takes over at once. */
  private async release(): Promise<void> {
    try {
      const current = await this.options.store.get();
      if (current?.holder !== this.options.identity) return;
      await this.options.store.update({ ...current, holder: '', leaseDurationSeconds: 1, renewTime: new Date(this.now()) });
    } catch (error) {
      this.options.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'cannot give up the leader Lease; it expires by itself',
      );
    }
  }
}
