// `npm run soak`: runs each adapter and ambassador for a simulated week (PODPATTERN_SOAK_DAYS, 7
// by default) with the time between polls or requests compressed to nothing, and prints how the
// memory of each moved: heap (after a full GC) and RSS at the start and end, and their slope per
// simulated day, fitted by least squares over the samples after the first fifth (the warm-up).
// A flat line is what a container that lives for weeks needs; a leak shows as a steady slope.
// The parts run side by side (each adapter is a process of its own, each ambassador a program
// of its own), so a week takes about as long as its longest part; each line says how long its
// part took.
//
// - Adapters (each in a process of its own, with the image's V8 flags and --expose-gc): the real poll loop and poller
//   against real counterparts: log-normalizer follows a file that an app appends ten lines to
//   a poll (through one descriptor opened with O_APPEND, as loggers write) and that it truncates
//   past 1 MiB, and, where nginx is installed, an access log that a real nginx writes (one
//   request every ten polls); redis-slowlog polls a redis-server that logs every command as
//   slow; storm polls a Storm UI double in this process. A week is as many polls as the
//   adapter's default interval gives (1 s, 10 s and 60 s).
// - The time between polls: redis-slowlog and storm sleep 0 ms (a timer of 1 ms, Node's
//   shortest) between polls; their polls are network round trips with deadlines on real timers.
//   log-normalizer's 604,800 polls are file reads, and a real timer per poll made the sleeping,
//   not the polling, most of the week's wall time (a process that sleeps 1 ms waits for the
//   scheduler to run it again, several ms on a loaded machine). Its loop sleeps its real
//   interval (1 s) on a simulated clock instead: node:test's mock timers stand in for
//   `setTimeout` (node:timers/promises' too, which the loop sleeps with) and `Date`, and after
//   each poll the clock is moved on by the interval, which ends the loop's sleep at once; the
//   lines' `read_at` times then span the simulated week.
//
// PODPATTERN_SOAK_PARTS=storm,redis-shard runs only the parts named. PODPATTERN_SOAK_SNAPSHOTS=DIR
// writes a heap snapshot of each adapter at the end of each simulated day (after a full
// collection), DIR/<part>-day<N>.heapsnapshot, for `node dist/bench/heap-compare.js`.
// - Ambassadors: the programs the templates run (Debian's socat and nutcracker), on 127.0.0.1,
//   with one request per simulated minute, each on a new connection, as an app that reconnects
//   would; RSS is the program's whole process tree. The nginx-based templates are not soaked here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet, type Server } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { pollLogs, type Positions } from '../src/adapters/log-normalizer.js';
import { pollUntilAborted, type AdapterIo } from '../src/adapters/poll.js';
import { pollSlowlog, type SlowlogState } from '../src/adapters/redis-slowlog.js';
import { pollStorm } from '../src/adapters/storm.js';
import { SERVE_NODE_FLAGS } from '../src/server/node-flags.js';

interface Sample {
  at: number;
  heap?: number;
  external?: number;
  rss: number;
  records?: number;
}
const DAY_S = 86_400;
const PARTS = ['log-normalizer', 'log-normalizer-nginx', 'redis-slowlog', 'storm', 'service-broker', 'redis-shard'];
const days = Number(process.env.PODPATTERN_SOAK_DAYS ?? '7');
/** The records an adapter wrote (each a JSON line on a real adapter's stdout), counted, not kept. */
let records = 0;
const quiet: AdapterIo = { record: () => void records++, diagnostic: () => undefined };

/** What the main process started and made, ended and removed if it is interrupted (SIGINT, SIGTERM). */
const children = new Set<ChildProcess>();
const folders: string[] = [];
/** Set once a signal stops the soak: the parts' errors from their ended counterparts are expected then. */
let interrupted = false;
function own<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`soak: ${signal}: stopping the ${children.size} processes it started\n`);
      // Each adapter worker exits on SIGTERM through its exit handlers, which remove its folder;
      // the folders here are removed once every process is gone (nginx writes into its own to the end).
      const gone = [...children].map((child) => new Promise((resolve) => child.once('exit', resolve)));
      for (const child of children) child.kill('SIGTERM');
      const kill = setTimeout(() => [...children].forEach((child) => child.kill('SIGKILL')), 5_000);
      void Promise.all(gone).then(() => {
        clearTimeout(kill);
        for (const dir of folders) rmSync(dir, { recursive: true, force: true });
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    });
}

// --- worker: one adapter, sampled ------------------------------------------------------------

async function adapterWorker(kind: string, polls: number, intervalS: number, target: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const clock = kind.startsWith('log-normalizer') ? simulatedClock() : undefined;
  const intervalMs = clock === undefined ? 0 : intervalS * 1000;
  const once = pollerFor(kind, target);
  const samples: Sample[] = [];
  const every = Math.max(1, Math.floor(polls / 100));
  const perDay = DAY_S / intervalS;
  const snapshots = process.env.PODPATTERN_SOAK_SNAPSHOTS;
  const stop = new AbortController();
  let done = 0;
  await pollUntilAborted(
    async () => {
      await once(stop.signal);
      done++;
      if (done % every === 0 || done === 1 || done === polls) {
        gc();
        const usage = process.memoryUsage();
        samples.push({ at: done, heap: usage.heapUsed, external: usage.external, rss: usage.rss, records });
      }
      if (snapshots !== undefined && done % perDay === 0) {
        gc();
        writeHeapSnapshot(join(snapshots, `${kind}-day${done / perDay}.heapsnapshot`));
      }
      if (done >= polls) stop.abort();
      // Moved on once the loop is asleep: its sleep is the timer this adds.
      else clock?.after(intervalMs);
    },
    intervalMs,
    stop.signal,
    quiet,
  );
  process.stdout.write(`${JSON.stringify(samples)}\n`);
}

/**
 * The clock of a simulated week: node:test's mock timers for `setTimeout` (the global, node:timers'
 * and node:timers/promises') and `Date`, from now. `after(ms)` moves it on by `ms` once the
 * current turn's promise jobs have run (a setImmediate, which stays real), so a sleep the code
 * under test starts on the way ends then.
 */
function simulatedClock(): { after(ms: number): void } {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.now() });
  // The mock replaces the CommonJS exports; an ES module's named import of a built-in sees the
  // change only once synced (https://nodejs.org/api/module.html#modulesyncbuiltinesmexports).
  syncBuiltinESMExports();
  return { after: (ms) => void setImmediate(() => mock.timers.tick(ms)) };
}

function pollerFor(kind: string, target: string): (stop: AbortSignal) => Promise<void> {
  if (kind === 'log-normalizer') {
    const dir = mkdtempSync(join(tmpdir(), 'soak-logs-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const positions: Positions = new Map();
    const options = { dir, files: '*.log', format: 'nginx' as const, maxFileBytes: 1024 * 1024 };
    const app = openSync(join(dir, 'access.log'), 'a');
    let n = 0;
    return () => {
      const lines = Array.from(
        { length: 10 },
        () => `127.0.0.1 - - [06/Dec/2026:01:02:03 +0000] "GET /item/${n++} HTTP/1.1" 200 612 "-" "soak"\n`,
      ).join('');
      writeSync(app, lines);
      pollLogs(options, positions, quiet);
      return Promise.resolve();
    };
  }
  if (kind === 'log-normalizer-nginx') {
    // target: the folder nginx writes access.log to, and the port it listens on.
    const [dir, port] = target.split(',') as [string, string];
    const positions: Positions = new Map();
    const options = { dir, files: 'access.log', format: 'nginx' as const, maxFileBytes: 1024 * 1024 };
    let n = 0;
    return async () => {
      if (n++ % 10 === 0) await request(Number(port), `/item/${n}`);
      pollLogs(options, positions, quiet);
    };
  }
  if (kind === 'redis-slowlog') {
    const state: SlowlogState = { lastId: undefined };
    const options = { host: '127.0.0.1', port: Number(target), count: 128, timeoutMs: 5_000 };
    return (stop) => pollSlowlog(options, state, quiet, stop);
  }
  const options = { url: target, window: 600, system: false, timeoutMs: 5_000 };
  return (stop) => pollStorm(options, quiet, stop);
}

// --- counterparts ----------------------------------------------------------------------------

/** One HTTP GET on a new connection; resolves when the answer is read. */
function request(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume().once('end', resolve)).once('error', reject);
  });
}

/** Debian's nginx as the app: it writes the combined format to `dir`/access.log, 0644 as always. */
async function nginxApp(): Promise<{ dir: string; port: number; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'soak-nginx-'));
  folders.push(dir);
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log stderr warn;\nevents {}\nhttp {\n  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  access_log ${dir}/access.log combined;\n  server { listen 127.0.0.1:${port}; location / { return 200 "soak\\n"; } }\n}\n`,
  );
  const child = own(spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'inherit'] }));
  await listening(port, child);
  return { dir, port, child };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listening(port: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${String(child.spawnfile)} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function redisServer(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = own(
    spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(port),
        '--save',
        '',
        '--appendonly',
        'no',
        '--slowlog-log-slower-than',
        '0',
        '--slowlog-max-len',
        '128',
      ],
      { stdio: 'ignore' },
    ),
  );
  await listening(port, child);
  return { port, child };
}

function stormUi(): Promise<Server> {
  const id = 'wordcount-1-1700000000';
  const server = createHttpServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if ((req.url ?? '').startsWith('/api/v1/topology/summary'))
      res.end(JSON.stringify({ topologies: [{ id, name: 'wordcount', status: 'ACTIVE', uptimeSeconds: 3600 }] }));
    else
      res.end(
        JSON.stringify({
          id,
          name: 'wordcount',
          status: 'ACTIVE',
          topologyStats: [{ window: '600', emitted: 1, transferred: 1, acked: 1, failed: 0, completeLatency: '1.0' }],
          spouts: [{ spoutId: 's', emitted: 1, acked: 1, failed: 0 }],
          bolts: [{ boltId: 'b', executed: 1, acked: 1, failed: 0 }],
        }),
      );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// --- measuring -------------------------------------------------------------------------------

/** RSS of a process and all its descendants, from /proc. */
function treeRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const walk = (p: number): void => {
    try {
      total += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return total;
}

/** Least-squares slope of `value` against `at`, over the samples after the first fifth. */
function slope(samples: Sample[], value: (s: Sample) => number): number {
  const used = samples.slice(Math.floor(samples.length / 5));
  const n = used.length;
  const mx = used.reduce((sum, s) => sum + s.at, 0) / n;
  const my = used.reduce((sum, s) => sum + value(s), 0) / n;
  const num = used.reduce((sum, s) => sum + (s.at - mx) * (value(s) - my), 0);
  const den = used.reduce((sum, s) => sum + (s.at - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const KiB = (bytes: number): string => `${bytes >= 0 ? '+' : ''}${(bytes / 1024).toFixed(1)} KiB`;

function line(name: string, unit: string, perDay: number, samples: Sample[], began: number): string {
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const heap =
    first.heap === undefined
      ? ''
      : `heap ${MiB(first.heap)} -> ${MiB(last.heap!)} (${KiB(slope(samples, (s) => s.heap!) * perDay)}/day), external ${MiB(first.external!)} -> ${MiB(last.external!)}, `;
  const wall = Math.round((performance.now() - began) / 1000);
  const written = last.records === undefined ? '' : ` (${last.records} records)`;
  return `${name.padEnd(20)} ${String(last.at).padStart(7)} ${unit}${written}: ${heap}RSS ${MiB(first.rss)} -> ${MiB(last.rss)} (${KiB(slope(samples, (s) => s.rss) * perDay)}/day), in ${wall} s\n${' '.repeat(21)}${byDay(samples, perDay)}`;
}

/** The last sample of each simulated day: whether a slope levels off. */
function byDay(samples: Sample[], perDay: number): string {
  const ends = new Map<number, Sample>();
  for (const sample of samples) ends.set(Math.ceil(sample.at / perDay), sample);
  const days = [...ends.values()].map(
    (s) => (s.heap === undefined ? '' : `heap ${(s.heap / 2 ** 20).toFixed(2)}, `) + `RSS ${(s.rss / 2 ** 20).toFixed(1)}`,
  );
  return `by simulated day (MiB): ${days.join('; ')}`;
}

async function soakAdapter(kind: string, intervalS: number, target: string): Promise<string> {
  const began = performance.now();
  const polls = Math.round((days * DAY_S) / intervalS);
  const child = own(
    spawn(
      process.execPath,
      [...SERVE_NODE_FLAGS, '--expose-gc', fileURLToPath(import.meta.url), 'adapter', kind, String(polls), String(intervalS), target],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${kind} soak exited with ${code}`);
  return line(kind, 'polls', DAY_S / intervalS, JSON.parse(out) as Sample[], began);
}

/** One request per simulated minute through `port`, each on a new connection; `request` must get its answer. */
async function soakAmbassador(name: string, child: ChildProcess, port: number, request: string, answer: RegExp): Promise<string> {
  const began = performance.now();
  await listening(port, child);
  const requests = days * 24 * 60;
  const every = Math.max(1, Math.floor(requests / 100));
  const samples: Sample[] = [];
  for (let i = 1; i <= requests; i++) {
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      socket.on('data', (chunk) => {
        text += String(chunk);
        if (answer.test(text)) socket.end();
      });
      socket.once('close', () => resolve(text)).once('error', reject);
    });
    if (!answer.test(reply)) throw new Error(`${name}: request ${i} got ${JSON.stringify(reply.slice(0, 200))}`);
    if (i % every === 0 || i === 1 || i === requests) samples.push({ at: i, rss: treeRss(child.pid!) });
  }
  child.kill('SIGKILL');
  return line(name, 'conns', 24 * 60, samples, began);
}

async function main(): Promise<void> {
  const missing = ['redis-server', 'socat', 'nutcracker'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) throw new Error(`not installed (.ci/run installs them): ${missing.join(', ')}`);
  const withNginx = spawnSync('sh', ['-c', 'command -v nginx']).status === 0;
  const only = process.env.PODPATTERN_SOAK_PARTS?.split(',') ?? PARTS;
  const unknown = only.filter((name) => !PARTS.includes(name));
  if (unknown.length > 0) throw new Error(`PODPATTERN_SOAK_PARTS: no part named ${unknown.join(', ')} (the parts: ${PARTS.join(', ')})`);
  const chosen = only.filter((name) => withNginx || name !== 'log-normalizer-nginx');
  process.stdout.write(
    `soak: a simulated ${days}-day week, Node ${process.version}, the parts side by side${withNginx ? '' : ' (nginx is not installed: log-normalizer with nginx as the app is left out)'}\n`,
  );
  const began = performance.now();
  const slowlogRedis = await redisServer();
  const shardRedis = await redisServer();
  const storm = await stormUi();
  const nginx = chosen.includes('log-normalizer-nginx') ? await nginxApp() : undefined;
  const echo = createServer((socket) => socket.on('data', (chunk) => socket.write(chunk)).on('error', () => undefined)).listen(
    0,
    '127.0.0.1',
  );
  await new Promise((resolve) => echo.once('listening', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'soak-twemproxy-'));
  folders.push(dir);
  const print = async (part: Promise<string>): Promise<void> => void process.stdout.write(`${await part}\n`);
  const ambassadors: ChildProcess[] = [];
  try {
    const brokerPort = await freePort();
    const socat = own(
      spawn('socat', [`TCP-LISTEN:${brokerPort},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${(echo.address() as AddressInfo).port}`], {
        stdio: 'ignore',
      }),
    );
    const shardPort = await freePort();
    writeFileSync(
      join(dir, 'nutcracker.yml'),
      `redis-shard:\n  listen: 127.0.0.1:${shardPort}\n  redis: true\n  hash: murmur\n  distribution: ketama\n  timeout: 400\n  preconnect: true\n  servers:\n    - 127.0.0.1:${shardRedis.port}:1\n`,
    );
    const twemproxy = own(
      spawn(
        'nutcracker',
        [
          '--conf-file',
          join(dir, 'nutcracker.yml'),
          '--stats-port',
          String(await freePort()),
          '--stats-addr',
          '127.0.0.1',
          '--output',
          '/dev/null',
        ],
        { stdio: 'ignore' },
      ),
    );
    ambassadors.push(socat, twemproxy);
    const parts: [string, () => Promise<string>][] = [
      ['log-normalizer', () => soakAdapter('log-normalizer', 1, '')],
      ['log-normalizer-nginx', () => soakAdapter('log-normalizer-nginx', 1, `${nginx!.dir},${nginx!.port}`)],
      ['redis-slowlog', () => soakAdapter('redis-slowlog', 10, String(slowlogRedis.port))],
      ['storm', () => soakAdapter('storm', 60, `http://127.0.0.1:${(storm.address() as AddressInfo).port}`)],
      ['service-broker', () => soakAmbassador('service-broker', socat, brokerPort, 'ping\n', /ping\n/)],
      [
        'redis-shard',
        () => soakAmbassador('redis-shard', twemproxy, shardPort, '*3\r\n$3\r\nSET\r\n$4\r\nsoak\r\n$1\r\n1\r\n', /\+OK\r\n/),
      ],
    ];
    await Promise.all(parts.filter(([name]) => chosen.includes(name)).map(([, run]) => print(run())));
    process.stdout.write(`soak: done in ${Math.round((performance.now() - began) / 1000)} s\n`);
  } finally {
    for (const child of [slowlogRedis.child, shardRedis.child, nginx?.child, ...ambassadors]) child?.kill('SIGKILL');
    storm.close();
    echo.close();
    rmSync(dir, { recursive: true, force: true });
    if (nginx !== undefined) rmSync(nginx.dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'adapter') {
  // Exits through the exit handlers (which remove its folder) when the main process stops it.
  process.once('SIGTERM', () => process.exit(143));
  adapterWorker(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), process.argv[6] ?? '').catch((error: unknown) => {
    process.stderr.write(`soak worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
} else {
  stopOnSignals();
  main().catch((error: unknown) => {
    if (interrupted) return;
    process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
