// Repeats the hostile drain many times and counts the reviews reset during it: the scenario of
// test/serve-hardening.test.ts's SIGTERM test (idle TLS connections, slow senders holding
// requests in flight, keep-alive clients sending reviews through the drain), run against
// `podpattern serve` inside this process so that a thousand rounds take minutes, not hours.
// A reset is a review the server took and never answered ('read ECONNRESET', 'socket hang up'
// after the request was written); a connection refused after the listener closed, or reset
// before its TLS handshake ended, was never taken.
//
//   npm run build && node dist/bench/drain-resets.js [rounds=1000] [drain-seconds=1]
import { request, Agent } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/main.js';
import { httpsProxyPod, reviewOf } from './pod.js';

const rounds = Number(process.argv[2] ?? 1000);
const drainSeconds = Number(process.argv[3] ?? 1);
process.chdir(mkdtempSync(join(tmpdir(), 'podpattern-drain-resets-')));
// The server's log lines are not wanted here; this program's report goes to stderr.
process.stdout.write = () => true;

const body = reviewOf(httpsProxyPod(), 'drain');

/** performance.now() at the round's SIGTERM (before it, times are negative). */
let signalledAt = Number.POSITIVE_INFINITY;

/** Two free ports, both held until both are known, so they differ. */
async function freePorts(): Promise<[number, number]> {
  const servers = [createServer(), createServer()];
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return [ports[0] as number, ports[1] as number];
}

/** Rejects with the error, prefixed by how far the review got: 'sent' once its TLS handshake was done and its request written. */
function review(port: number, ca: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    let secure = false;
    let written = false;
    let reused = false;
    const at: Record<string, number> = { start: performance.now() - signalledAt };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        servername: 'localhost',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (error) => reject(new Error(`sent: ${error.message}`)));
      },
    );
    req.on('socket', (socket: TLSSocket) => {
      if (!socket.connecting && socket.encrypted && socket.authorized) secure = reused = true; // reused keep-alive socket
      socket.once('secureConnect', () => {
        secure = true;
        at.secure = performance.now() - signalledAt;
      });
    });
    req.on('finish', () => {
      written = true;
      at.written = performance.now() - signalledAt;
    });
    req.on('error', (error) => {
      at.error = performance.now() - signalledAt;
      const when =
        process.env.DRAIN_RESETS_DEBUG === undefined
          ? ''
          : ` (${reused ? 'kept-alive connection; ' : ''}ms from SIGTERM: ${Object.entries(at)
              .map(([k, v]) => `${k} ${v.toFixed(0)}`)
              .join(', ')})`;
      reject(
        new Error(
          `${secure && written ? 'sent' : secure ? 'handshake done, not all written' : 'before the TLS handshake ended'}: ${error.message}${when}`,
        ),
      );
    });
    req.end(body);
  });
}

function idleSocket(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 60_000; !(await check().catch(() => false));) {
    if (Date.now() > deadline) throw new Error('the server did not start');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function round(): Promise<{ answered: number; refused: number; reset: string[] }> {
  const [port, healthPort] = await freePorts();
  const exited = run([
    `--port=${port}`,
    `--health-port=${healthPort}`,
    '--host=127.0.0.1',
    `--drain-seconds=${drainSeconds}`,
    '--live-catalog=off',
    '--log-level=warn',
  ]);
  await until(async () => (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).ok);
  const ca = readFileSync(join('certs', 'ca.crt'), 'utf8');
  const held = await Promise.all(Array.from({ length: 60 }, () => idleSocket(port, ca)));
  const slow = held.slice(0, 10);
  for (const socket of slow)
    socket.write('POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{');
  const trickle = setInterval(() => slow.forEach((s) => s.writable && s.write(' ')), 200);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let sending = true;
  let answered = 0;
  const errors: string[] = [];
  const loops = Array.from({ length: 4 }, async () => {
    while (sending) {
      try {
        await review(port, ca, agent);
        answered += 1;
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  });
  await until(() => Promise.resolve(answered > 0));
  signalledAt = performance.now();
  process.kill(process.pid, 'SIGTERM');
  await exited;
  sending = false;
  await Promise.all(loops);
  clearInterval(trickle);
  agent.destroy();
  held.forEach((s) => s.destroy());
  // Refused, or reset before its TLS handshake ended: the server never took that review (the
  // listener closed with the connection still in the kernel's accept queue).
  const refused = errors.filter((e) => /ECONNREFUSED|connect ECONNRESET|^before the TLS handshake ended/.test(e));
  return { answered, refused: refused.length, reset: errors.filter((e) => !refused.includes(e)) };
}

let resets = 0;
let reviews = 0;
for (let i = 1; i <= rounds; i += 1) {
  const { answered, refused, reset } = await round();
  resets += reset.length;
  reviews += answered + reset.length;
  if (reset.length > 0 || i % 50 === 0)
    process.stderr.write(
      `round ${i}: ${answered} answered, ${refused} refused after close, reset ${JSON.stringify(reset)}; in all ${resets} reset of ${reviews}\n`,
    );
}
process.stderr.write(`${rounds} rounds, drain ${drainSeconds} s: ${resets} reviews reset of ${reviews} taken\n`);
