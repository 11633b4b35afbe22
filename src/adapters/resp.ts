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
    case '+': return { value: line, end: next };
    case '-': return { value: new RespError(line), end: next };
    case ':': return { value: Number(line), end: next };
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

/** Sends one command on a fresh connection and resolves with its reply (a RespError for -ERR). */
export function sendCommand(host: string, port: number, args: string[], timeoutMs: number): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
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
    socket.on('close', () => reject(new Error(`connection to ${host}:${port} closed before a reply`)));
  });
}
