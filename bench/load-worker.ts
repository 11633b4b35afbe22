// The load generator for bench/server.ts, in a child process so that sending requests shares
// neither the servers' event loop nor the resident memory reported for them. Each of `concurrency` keep-alive TLS connections sends a
// request, reads the whole response, and sends the next (a closed loop). Requests are written
// as raw HTTP/1.1 bytes and responses are only framed (status line, Content-Length), so the
// generator spends as little of the machine's two cores as it can: node:https's client costs
// about as much CPU per request as the server being measured.
import { connect, type TLSSocket } from 'node:tls';

export interface LoadJob {
  port: number;
  ca: string;
  body: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on requests measured, so a fast machine stays bounded too. */
  maxRequests: number;
  /** When set, every occurrence of this text in the body is replaced by a counter, making every request distinct. */
  uniqueToken?: string;
  /**
   * When set, this text in the body (12 characters, inside request.uid) is replaced by a counter
   * on every request, as the API server gives every review its own uid.
   */
  uidToken?: string;
}

export interface LoadResult {
  requests: number;
  /** Every request answered, the warm-up's included: what the server's CPU time was spent on. */
  answered: number;
  errors: number;
  seconds: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  firstBody: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

function requestBytes(body: string): Buffer {
  const payload = Buffer.from(body);
  const head = `POST /mutate?timeout=10s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), payload]);
}

/** One connection: resolves each response's body; rejects on a non-200 or a closed socket. */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | undefined;
  private constructor(private readonly socket: TLSSocket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => this.pending?.reject(error));
    socket.on('close', () => this.pending?.reject(new Error('connection closed')));
  }

  static open(port: number, ca: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEADER_END);
    if (end === -1) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    if (Number.isNaN(length)) return this.fail(new Error(`response without content-length: ${head}`));
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = Buffer.from(this.buffer.subarray(end + 4 + length));
    const pending = this.pending;
    this.pending = undefined;
    if (!head.startsWith('HTTP/1.1 200')) pending?.reject(new Error(head.split('\r\n')[0]));
    else pending?.resolve(body);
  }

  private fail(error: Error): void {
    this.pending?.reject(error);
    this.pending = undefined;
  }
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const fixed = requestBytes(job.body);
  const uidAt = job.uidToken === undefined ? -1 : fixed.indexOf(job.uidToken);
  if (job.uidToken !== undefined && (uidAt === -1 || job.uidToken.length !== 12))
    throw new Error(`the body has no 12-character uid token ${job.uidToken}`);
  let counter = 0;
  let uids = 0;
  const withUid = (bytes: Buffer, at: number): Buffer => {
    if (at === -1) return bytes;
    const copy = Buffer.from(bytes); // a socket may hold a written buffer: never rewrite one
    copy.write(String((uids += 1)).padStart(12, '0'), at, 'latin1');
    return copy;
  };
  const nextRequest = (): Buffer => {
    if (job.uniqueToken === undefined) return withUid(fixed, uidAt);
    const bytes = requestBytes(job.body.replaceAll(job.uniqueToken, String((counter += 1))));
    return withUid(bytes, job.uidToken === undefined ? -1 : bytes.indexOf(job.uidToken));
  };
  const connections = await Promise.all(Array.from({ length: job.concurrency }, () => Connection.open(job.port, job.ca)));
  const latencies: number[] = [];
  let errors = 0;
  let firstBody = '';
  let answered = 0;
  let measuring = false;
  let stop = false;

  const loop = async (connection: Connection): Promise<void> => {
    while (!stop) {
      const start = process.hrtime.bigint();
      try {
        const body = await connection.send(nextRequest());
        answered += 1;
        if (firstBody === '') firstBody = body.toString();
        if (measuring) latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
      } catch {
        errors += 1;
        return;
      }
      if (latencies.length >= job.maxRequests) stop = true;
    }
  };

  const loops = connections.map(loop);
  await new Promise((resolve) => setTimeout(resolve, job.warmupMs));
  measuring = true;
  const measuredStart = process.hrtime.bigint();
  const timer = setTimeout(() => (stop = true), job.durationMs);
  await Promise.all(loops);
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - measuredStart) / 1e9;
  for (const connection of connections) connection.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN;
  return { requests: latencies.length, answered, errors, seconds, p50: at(0.5), p99: at(0.99), firstBody };
}

// As a child process: run each job sent, send back its result.
if (process.send !== undefined) {
  process.on('message', (job: LoadJob) => {
    runLoad(job).then(
      (result) => process.send?.(result),
      (error: unknown) => process.send?.({ error: String(error) }),
    );
  });
}
