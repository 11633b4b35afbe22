// The server's own state that readiness and responses depend on: whether we are draining.
export class Lifecycle {
  private drainingSince: number | undefined;

  /** Turns readiness false and makes every response close its connection. Idempotent. */
  startDraining(now: number = Date.now()): void {
    this.drainingSince ??= now;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }
}
