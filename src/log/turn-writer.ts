// Where `podpattern serve` writes its log lines: stdout, one write per turn of the event loop.
//
// A busy webhook answers many reviews in one turn (each read from the network wakes the loop
// with several requests), and writing each one's line on its own is a syscall per review.
// Writing them asynchronously instead (sonic-boom's default) hands each write to libuv's thread
// pool and keeps the lines in a growing string while a write is in flight, which under load
// cost more memory and CPU than it saved (bench/RESULTS.md). This keeps the lines of the
// current turn and writes them together, synchronously, before the loop goes back to the
// network: a quiet webhook's line is out within the same turn, a crash loses at most the
// lines of one turn, and `flush()` on exit loses none.
import type { DestinationStream } from 'pino';

/** A synchronous sink: sonic-boom with `sync: true` (it retries EAGAIN and partial writes). */
export interface SyncSink {
  write(text: string): unknown;
}

export class TurnWriter implements DestinationStream {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly sink: SyncSink) {}

  write(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes every pending line now. Safe in an `exit` handler: the sink is synchronous. */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.sink.write(text);
  };
}
