// Where `podpattern serve` writes its log lines: stdout, in batches a few milliseconds long.
//
// One line per review is the contract (SPEC §6), and a busy webhook answers thousands a second:
// a write syscall per line was a visible share of a review's cost. Asynchronous writes
// (sonic-boom's default) hand each write to libuv's thread pool and keep lines in a growing string
// while one is in flight, which under load cost more memory and CPU than they saved
// (bench/RESULTS.md). This keeps lines for at most `maxDelayMs` or `maxBytes`, whichever comes
// first, and writes them synchronously in one go. A quiet webhook's line is out within a few
// milliseconds; `flush()` on exit loses nothing; only a SIGKILL can lose the last few ms.
import type { DestinationStream } from 'pino';

/** A synchronous sink: sonic-boom with `sync: true` (it retries EAGAIN and partial writes). */
export interface SyncSink {
  write(text: string): unknown;
}

export interface LineBatcherOptions {
  /** Longest a line waits. Default 5 ms. */
  maxDelayMs?: number;
  /** Pending text that is written at once, without waiting. Default 64 KiB. */
  maxBytes?: number;
}

export class LineBatcher implements DestinationStream {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxDelayMs: number;
  private readonly maxBytes: number;

  constructor(private readonly sink: SyncSink, options: LineBatcherOptions = {}) {
    this.maxDelayMs = options.maxDelayMs ?? 5;
    this.maxBytes = options.maxBytes ?? 64 * 1024;
  }

  write(line: string): void {
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= this.maxBytes) this.flush();
    else this.timer ??= setTimeout(this.flush, this.maxDelayMs);
  }

  /** Writes every pending line now. Safe in an `exit` handler: the sink is synchronous. */
  readonly flush = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.sink.write(text);
  };
}
