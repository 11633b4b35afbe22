// `podpattern serve` as a real process under attack: a thousand idle and half-open connections
// at shutdown, a busy port at start, empty bodies, and memory through a hostile mix of 3 MiB
// reviews at concurrency 16. The memory test runs the built server (dist/, which `npm test`
// builds first) with the V8 flags the chart gives it, since the TypeScript loader the other
// process tests use holds tens of megabytes of its own.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Agent } from 'node:https';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { httpsCall, keepSending } from './helpers/tls.js';
import { serve, type Served } from './helpers/process.js';
import { hostileCases, review } from './helpers/hostile-reviews.js';
import { chartServeEnvironment } from './helpers/chart-heap.js';
import { SERVE_NODE_FLAGS } from '../src/server/node-flags.js';

const MiB = 1024 * 1024;
const CHART_MEMORY_LIMIT = 256 * MiB;

const ordinary = (uid: string) => review(uid, { annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' } });

async function started(server: Served): Promise<{ port: number }> {
  const line = await server.waitFor((l) => l.msg === 'podpattern serving', 60_000);
  return { port: line.port as number };
}

/** Opens `count` connections of one kind, resolving once each is in the state wanted. */
async function openConnections(kind: 'tcp' | 'tls-idle' | 'tls-half-headers', count: number, port: number, ca: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let batch = 0; batch < count; batch += 50) {
    const opened = await Promise.all(Array.from({ length: Math.min(50, count - batch) }, () => new Promise<Socket>((resolve, reject) => {
      if (kind === 'tcp') {
        const socket = tcpConnect({ host: '127.0.0.1', port }, () => resolve(socket));
        socket.on('error', () => undefined);
        socket.once('error', reject);
        return;
      }
      const socket: TLSSocket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        if (kind === 'tls-half-headers') socket.write('POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n');
        resolve(socket);
      });
      socket.on('error', () => undefined);
      socket.once('error', reject);
    })));
    sockets.push(...opened);
  }
  return sockets;
}

t.test('1,000 idle and half-open connections, then SIGTERM: exit 0 within drain + 5 s, no review lost', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-idle-'));
  const drainSeconds = 2;
  const server = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', `--drain-seconds=${drainSeconds}`], { cwd });
  t.teardown(() => { server.child.kill('SIGKILL'); });
  const { port } = await started(server);
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');

  const held = [
    ...(await openConnections('tcp', 400, port, ca)), // never send a ClientHello
    ...(await openConnections('tls-idle', 300, port, ca)), // handshake, then nothing
    ...(await openConnections('tls-half-headers', 300, port, ca)), // half a request header
  ];
  t.teardown(() => held.forEach((s) => s.destroy()));
  t.equal(held.length, 1000, '1,000 connections held open');

  // Reviews keep coming on a keep-alive pool, as from the API server, through the drain.
  const sending = keepSending({ port, ca, clients: 4, body: (n) => ordinary(`idle-${n}`) });
  t.teardown(() => sending.stop());
  const { results, errors } = sending;
  await server.waitFor((l) => l.msg === 'review', 30_000);

  const signalled = performance.now();
  server.child.kill('SIGTERM');
  await server.waitFor((l) => l.msg === 'draining: /readyz fails, reviews still served', 30_000);
  await new Promise((resolve) => setTimeout(resolve, (drainSeconds * 1000) / 2)); // well inside the window
  await sending.stop();
  const code = await server.exit;
  const seconds = (performance.now() - signalled) / 1000;

  t.equal(code, 0, 'exit 0');
  t.ok(seconds <= drainSeconds + 5, `exited ${seconds.toFixed(1)} s after SIGTERM (drain ${drainSeconds} s)`);
  t.same(errors, [], 'no review failed');
  t.ok(results.length > 0 && results.every((r) => r.status === 200 && JSON.parse(r.body).response.patchType === 'JSONPatch'), `${results.length} reviews, all answered with their patch`);
  t.equal(server.lines.filter((l) => l.msg === 'review').length, results.length, 'one log line per review answered');
  const closed = server.lines.find((l) => l.msg === 'closed connections with no request in flight');
  t.ok(closed !== undefined && (closed.connections as number) >= 990, `idle connections ended at close (${String(closed?.connections)})`);
  t.comment(`idle/half-open shutdown: exit ${code} after ${seconds.toFixed(2)} s with drain ${drainSeconds} s; ${results.length} reviews, ${errors.length} lost`);
});

t.test('a listener that cannot start: exit 1, nothing left serving', async (t) => {
  const busy = createTcpServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const busyPort = (busy.address() as { port: number }).port;
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-busy-'));
  const server = serve(['--port=0', `--health-port=${busyPort}`, '--host=127.0.0.1'], { cwd });
  t.teardown(() => { server.child.kill('SIGKILL'); });
  t.equal(await server.exit, 1, 'exit 1');
  t.match(server.lines.find((l) => l.level === 60), { msg: 'podpattern serve cannot start', reason: /cannot listen .*EADDRINUSE/ });
  t.notOk(server.lines.some((l) => l.msg === 'podpattern serving'), 'it never said it was serving');
});

t.test('an empty POST body, however it is framed, is a 400', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-empty-'));
  const server = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', '--drain-seconds=0'], { cwd });
  t.teardown(() => { server.child.kill('SIGKILL'); });
  const { port } = await started(server);
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  const framings: Array<[string, Record<string, string>]> = [
    ['Content-Length: 0', { 'content-length': '0' }],
    ['chunked, no chunks', { 'transfer-encoding': 'chunked' }],
  ];
  for (const [label, headers] of framings) {
    const res = await httpsCall({ port, ca, headers, body: '' });
    t.equal(res.status, 400, `${label}: 400`);
    t.match(JSON.parse(res.body), { code: 'empty-body' }, `${label}: code empty-body`);
  }
  // No length header at all: HTTP/1.1 then means no body.
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => socket.write('POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n'));
    let text = '';
    socket.on('data', (chunk) => (text += String(chunk)));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(raw, /^HTTP\/1\.1 400 /, 'no length header: 400');
  t.match(raw, /"code":"empty-body"/);
  server.child.kill('SIGTERM');
  t.equal(await server.exit, 0);
});

t.test('memory: RSS stays under 60 % of the chart limit through a hostile mix at concurrency 16', async (t) => {
  const bin = fileURLToPath(new URL('../dist/src/bin/podpattern.js', import.meta.url));
  if (!existsSync(bin)) {
    t.fail('dist/ is missing: run `npm run build` (npm test does) before this test');
    return;
  }
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-rss-'));
  const chart = chartServeEnvironment();
  const flags = [...SERVE_NODE_FLAGS, ...chart.nodeFlags];
  const child = spawn(process.execPath, [...flags, bin, 'serve', '--port=0', '--health-port=0', '--host=127.0.0.1', '--drain-seconds=0'], {
    cwd, env: { ...process.env, PODPATTERN_LIVE_CATALOG: 'off', NODE_OPTIONS: '', ...chart.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let healthPort = 0;
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try { const line = JSON.parse(text); if (line.msg === 'podpattern serving') { healthPort = line.healthPort; resolve(line.port); } } catch { /* not JSON */ }
    });
    let err = '';
    child.stderr!.on('data', (c) => (err += String(c)));
    child.on('exit', (code, signal) => reject(new Error(`serve exited ${code} ${signal}: ${err}`)));
  });
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status())?.[1] ?? 0) * 1024;

  const cases = hostileCases(3 * MiB - 64 * 1024);
  const bodies = cases.map((c, i) => c.body(`rss-${i}`)); // built once: the test's own memory is not the server's
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  t.teardown(() => agent.destroy());
  let sent = 0;
  const statuses = new Map<number, number>();
  const errors: string[] = [];
  const total = 16 * 12;
  const workers = Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < total; i += 16) {
      const body = i % 4 === 0 ? ordinary(`rss-ordinary-${i}`) : (bodies[i % bodies.length] as string);
      try {
        const res = await httpsCall({ port, ca, agent, body });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      } catch (e) { errors.push((e as Error).message); }
      sent += 1;
    }
  });
  await Promise.all(workers);
  const peak = kib('VmHWM');
  const limit = 0.6 * CHART_MEMORY_LIMIT;
  t.same(errors, [], 'every review answered');
  t.notOk(statuses.has(500), `no 500s (statuses: ${JSON.stringify([...statuses])})`);
  t.equal(sent, total);
  t.ok(peak < limit, `peak RSS ${(peak / MiB).toFixed(1)} MiB, under 60 % of 256 MiB (${(limit / MiB).toFixed(1)} MiB)`);
  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const gauge = (name: string) => (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / MiB).toFixed(1);
  t.comment(`memory after the mix: heap used ${gauge('nodejs_heap_size_used_bytes')} of ${gauge('nodejs_heap_size_total_bytes')} MiB, external ${gauge('nodejs_external_memory_bytes')} MiB, resident now ${(kib('VmRSS') / MiB).toFixed(1)} MiB`);
  t.comment(`memory: peak RSS ${(peak / MiB).toFixed(1)} MiB over ${total} reviews (${bodies.length} hostile kinds, 3 MiB each, and ordinary ones) at concurrency 16, flags ${flags.join(' ')}, env ${JSON.stringify(chart.env)}`);
  child.kill('SIGTERM');
});
