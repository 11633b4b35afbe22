// How many bytes of review bodies are read and held at once.
//
// Reviews are decided one at a time (the engine is synchronous), but bodies arrive side by side:
// sixteen 3 MiB reviews read at once held about 100 MiB of strings and parsed objects, past the
// heap a 256 MiB container can give, and ran the process out of memory. So a large request
// waits, before its body is read, until the bodies in flight leave room for its Content-Length
// (the whole budget when it sends none); while it waits its bytes stay in the kernel's socket
// buffers (TCP pushes back on the sender), not in the heap. Small reviews, the API server's usual
// traffic, never wait, so a slow sender holding the budget cannot hold them up; a body larger than
// the whole budget is read alone. Waiting counts against the review's deadline, like
// any other delay: past it the failure mode answers.
//
// Once a body starts being read it has `readTimeoutMs` to arrive: a sender that declared 4 MiB
// and sent a byte every 5 s held the budget until Node's request timeout, and every large review
// behind it waited for as long. Past the deadline it gets a 408 and its connection is closed,
// which frees its room for the next in line. The clock starts when reading starts, not when the
// request arrived, so a review that waited behind a slow sender still has its whole deadline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './errors.js';

/** Bodies up to this size (an ordinary review is a few KiB) are read at once, outside the budget. */
export const SMALL_BODY_BYTES = 64 * 1024;

interface Entry {
  bytes: number;
  start: () => void;
  holding: boolean;
}

export class BodyBudget {
  private inFlight = 0;
  private readonly waiting: Entry[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly readTimeoutMs: number,
  ) {}

  get bytesInFlight(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Calls `start` once the body fits (at once, when it does now), and frees its room when `response` closes. */
  admit(request: IncomingMessage, response: ServerResponse, unknownLength: number, start: () => void): void {
    const declared = Number(request.headers['content-length']);
    const length =
      request.headers['content-length'] !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? declared : unknownLength;
    const reading = (): void => {
      this.readWithin(request, response);
      start();
    };
    // Small bodies never wait, so a slow sender holding the budget cannot hold up ordinary reviews.
    if (length <= SMALL_BODY_BYTES) {
      reading();
      return;
    }
    const bytes = Math.min(length, this.maxBytes);
    const entry: Entry = { bytes, start: reading, holding: false };
    response.once('close', () => this.release(entry));
    if (this.waiting.length === 0 && this.fits(bytes)) this.begin(entry);
    else this.waiting.push(entry);
  }

  /** Answers 408 and closes the connection when the body has not all arrived within the read timeout. */
  private readWithin(request: IncomingMessage, response: ServerResponse): void {
    if (request.complete) return;
    const timer = setTimeout(() => {
      if (request.complete || response.writableEnded) return;
      const socket = request.socket;
      if (!response.headersSent) {
        const body = JSON.stringify(
          errorBody('request-timeout', `the body did not arrive within ${this.readTimeoutMs} ms of starting to read it`),
        );
        response.writeHead(408, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        });
        response.end(body, () => socket.destroy());
      } else {
        socket.destroy();
      }
    }, this.readTimeoutMs);
    timer.unref();
    request.once('end', () => clearTimeout(timer));
    response.once('close', () => clearTimeout(timer));
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes;
  }

  private begin(entry: Entry): void {
    entry.holding = true;
    this.inFlight += entry.bytes;
    entry.start();
  }

  private release(entry: Entry): void {
    if (entry.holding) {
      entry.holding = false;
      this.inFlight -= entry.bytes;
    } else {
      // The client gave up while waiting: it never held room.
      const at = this.waiting.indexOf(entry);
      if (at !== -1) this.waiting.splice(at, 1);
    }
    while (this.waiting.length > 0 && this.fits((this.waiting[0] as Entry).bytes)) this.begin(this.waiting.shift() as Entry);
  }
}
