// Just enough of Redis's protocol (RESP2, redis.io/docs/reference/protocol-spec) to send one
// command and read its reply: the slow-log adapter sends one SLOWLOG GET per poll. Written here
// rather than taken from a Redis client library so the webhook's image gains no dependency for
// one read-only command; the parser is tested against a real redis-server.
import { connect } from 'node:net';

export type RespValue = string | number | null | RespValue[] | RespError;

export class RespError extends Error {}

/** Encodes a command as an array of bulk strings. */
export function encodeCommand(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/** Parses one reply from `buffer` at `offset`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buffer: Buffer, offset = 0): { value: RespValue; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RespError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (item === undefined) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new RespError(`not a RESP reply (type byte ${JSON.stringify(type)})`);
  }
}

export interface SendOptions {
  /** The whole exchange, connecting included, ends by then: a reply that trickles is not waited on for ever. */
  timeoutMs: number;
  /** A reply larger than this is refused as it arrives. */
  maxReplyBytes: number;
  /** Aborting (the adapter's SIGTERM) closes the connection and rejects at once. */
  signal?: AbortSignal;
}

/** Sends one command on a fresh connection and resolves with its reply (a RespError for -ERR). */
export function sendCommand(host: string, port: number, args: string[], options: SendOptions): Promise<RespValue> {
  const { timeoutMs, maxReplyBytes, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new Error('stopped'));
      return;
    }
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    let received = 0;
    let last = 0; // the stream's last byte so far
    // A deadline on the whole exchange, not an idle timeout: a server writing a byte now and
    // then would reset an idle timer for ever.
    const deadline = setTimeout(
      () => socket.destroy(new Error(`no complete reply from ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => {
      socket.destroy(new Error('stopped'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxReplyBytes) {
        socket.destroy(new Error(`the reply from ${host}:${port} is larger than ${maxReplyBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      const before = chunk.length >= 2 ? chunk[chunk.length - 2] : last;
      last = chunk[chunk.length - 1] as number;
      // Every complete reply ends with CRLF: only then is a parse worth trying.
      if (before !== 0x0d || last !== 0x0a) return;
      try {
        const buffer = chunks.length === 1 ? chunk : Buffer.concat(chunks);
        chunks.splice(0, chunks.length, buffer);
        const reply = parseReply(buffer);
        if (reply !== undefined) {
          socket.end();
          resolve(reply.value);
        }
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`connection to ${host}:${port} closed before a reply`));
    });
  });
}
