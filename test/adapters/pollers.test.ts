// The redis-slowlog and storm adapters against hostile servers on 127.0.0.1, port 0: a Redis
// whose reply never completes, one that floods, one that never answers while the adapter is
// stopped, a slow log entry with an impossible time, and a Storm UI with a huge body. Outcomes
// and bytes are asserted; the only clock is the adapters' own deadline.
import { once } from 'node:events';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { AdapterIo } from '../../src/adapters/poll.js';
import { pollSlowlog } from '../../src/adapters/redis-slowlog.js';
import { pollStorm } from '../../src/adapters/storm.js';
import { run } from '../../src/cli/adapter.js';

const MiB = 1 << 20;

/** A TCP server that calls `onCommand` with the socket once a command has arrived. */
async function fakeRedis(
  t: Test,
  onCommand: (socket: Socket) => void,
): Promise<{ port: number; server: Server; closed: Promise<void>[]; commands: () => number }> {
  let commands = 0;
  const closed: Promise<void>[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    closed.push(new Promise((resolve) => socket.on('close', () => resolve())));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      commands += 1;
      onCommand(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, server, closed, commands: () => commands };
}

/** Writes 64 KiB chunks as fast as the peer reads them, up to `total` bytes; counts what was sent. */
function flood(
  stream: NodeJS.WritableStream & { destroyed: boolean },
  total: number,
  sent: { bytes: number },
  then: () => void = () => undefined,
): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = (): void => {
    while (!stream.destroyed && sent.bytes < total) {
      sent.bytes += chunk.length;
      if (!stream.write(chunk)) {
        stream.once('drain', pump);
        return;
      }
    }
    if (!stream.destroyed) then();
  };
  pump();
}

function captureIo() {
  const records: Record<string, unknown>[] = [];
  const diagnostics: Array<{ message: string; fields?: Record<string, unknown> }> = [];
  const io: AdapterIo = {
    record: (r) => records.push(JSON.parse(JSON.stringify(r))),
    diagnostic: (message, fields) => diagnostics.push({ message, ...(fields === undefined ? {} : { fields }) }),
  };
  return { io, records, diagnostics };
}

t.test("redis-slowlog: a reply that trickles for ever ends at the poll's deadline", async (t) => {
  let timer: NodeJS.Timeout | undefined;
  t.teardown(() => clearInterval(timer));
  const redis = await fakeRedis(t, (socket) => {
    socket.write('*1\r\n$100000000\r\n');
    // A few bytes at a time: an idle timeout never fires on this.
    timer = setInterval(() => socket.write('aaaaaaaa'), 5);
  });
  const { io } = captureIo();
  await t.rejects(
    pollSlowlog({ host: '127.0.0.1', port: redis.port, count: 10, timeoutMs: 300 }, { lastId: undefined }, io),
    /no complete reply .* within 300 ms/,
  );
  await Promise.all(redis.closed);
  t.pass('the connection is closed');
});

t.test('redis-slowlog: a reply that floods is refused past its byte limit', async (t) => {
  const sent = { bytes: 0 };
  const redis = await fakeRedis(t, (socket) => {
    socket.write('*1\r\n$1000000000\r\n');
    flood(socket, 256 * MiB, sent);
  });
  const { io } = captureIo();
  await t.rejects(
    pollSlowlog({ host: '127.0.0.1', port: redis.port, count: 10, timeoutMs: 60_000, maxReplyBytes: MiB }, { lastId: undefined }, io),
    /larger than 1048576 bytes/,
  );
  await Promise.all(redis.closed);
  t.ok(sent.bytes < 32 * MiB, `the server got to send ${(sent.bytes / MiB).toFixed(1)} MiB of its 256 before the adapter hung up`);
});

t.test('redis-slowlog: stopping the adapter (SIGTERM) ends a poll waiting on a Redis that never answers', async (t) => {
  let commandSeen: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => (commandSeen = resolve));
  const redis = await fakeRedis(t, () => commandSeen());
  const stop = new AbortController();
  const { io: adapterIo, diagnostics } = captureIo();
  const io = { stdout: () => undefined, stderr: () => undefined, readStdin: () => '' };
  const running = run(['redis-slowlog', '--redis-port', String(redis.port), '--interval', '3600'], io, adapterIo, stop.signal);
  await seen;
  stop.abort();
  t.equal(await running, 0, 'the adapter stops and exits 0');
  await Promise.all(redis.closed);
  t.equal(redis.commands(), 1, 'one poll, abandoned, not retried');
  t.match(
    diagnostics.map((d) => d.message),
    ['adapter redis-slowlog started', 'adapter redis-slowlog stopped'],
    'no failed poll reported for the stop',
  );
});

t.test('redis-slowlog: an entry with an impossible time loses nothing after it', async (t) => {
  const entry = (id: number, time: number | string) =>
    `*6\r\n:${id}\r\n:${time}\r\n:1500\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n$14\r\n127.0.0.1:5000\r\n$0\r\n\r\n`;
  const redis = await fakeRedis(t, (socket) =>
    socket.end(`*3\r\n${entry(3, 1_700_000_003)}${entry(2, '100000000000000000000')}${entry(1, 1_700_000_001)}`),
  );
  const { io, records, diagnostics } = captureIo();
  await pollSlowlog({ host: '127.0.0.1', port: redis.port, count: 10, timeoutMs: 5_000 }, { lastId: undefined }, io);
  t.same(
    records.map((r) => r.id),
    [1, 2, 3],
    'all three entries, in order',
  );
  t.equal(records[0]?.time, '2023-11-14T22:13:21.000Z');
  t.match(records[1], { unix_time: 1e20, time: /^\d{4}-/ }, 'the impossible one keeps its raw time, and the time it was read');
  t.equal(records[2]?.time, '2023-11-14T22:13:23.000Z');
  t.match(diagnostics, [{ message: /time out of range/, fields: { id: 2 } }]);
});

t.test('storm: a body over the limit is refused while it streams; a declared one before it is read', async (t) => {
  const sent = { bytes: 0 };
  const server = createHttpServer((request, response: ServerResponse) => {
    if (request.url === '/declared/api/v1/topology/summary') {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(400 * MiB) });
      response.write('{"topologies":[');
      return; // never finishes: the adapter must not wait for it
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"topologies":[],"padding":"');
    flood(response, 400 * MiB, sent, () => response.end('"}'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const { io, records } = captureIo();
  await t.rejects(
    pollStorm({ url: base, window: 600, system: false, timeoutMs: 60_000, maxBodyBytes: MiB }, io),
    /larger than 1048576 bytes/,
  );
  t.ok(sent.bytes < 32 * MiB, `the server got to send ${(sent.bytes / MiB).toFixed(1)} MiB of its 400 before the adapter stopped reading`);
  await t.rejects(
    pollStorm({ url: `${base}/declared`, window: 600, system: false, timeoutMs: 60_000, maxBodyBytes: MiB }, io),
    /declares 419430400 bytes, more than 1048576/,
  );
  t.same(records, []);
});
