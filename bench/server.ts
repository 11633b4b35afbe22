// Server benchmark: HTTPS POST /mutate of a real `podpattern serve` process (as deployed: its
// own main, logging and metrics) against two references run in this process, all measured in
// the same run in alternating rounds: a bare Fastify HTTPS route that parses the same body and
// answers a constant of the same size (the ratio's denominator), and a bare `node:https` server
// doing the same (the floor of the stack). The load generator runs in a child process.
// PODPATTERN_BENCH_BASELINE=<a checkout's dist/> adds that build's `serve` as one more column,
// so a change is measured before and after in one run. PODPATTERN_BENCH_VARIANTS adds this build's
// `serve` started otherwise, a column each (see `variants` below): an environment variable or a
// Node flag measured against the serve as deployed, in one run.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { parse } from 'yaml';
import { generateCertificates } from '../src/certs/generate.js';
import { BODY_LIMIT_BYTES, KEEP_ALIVE_TIMEOUT_MS } from '../src/server/app.js';
import { SERVE_NODE_FLAGS } from '../src/server/node-flags.js';
import type { LoadJob, LoadResult } from './load-worker.js';
import { describeMemoryParts, memoryParts } from './memory-parts.js';
import { SEQ_TOKEN, realisticPod, reviewOf } from './pod.js';

/** Rounds per row; each server runs once per round, in a rotating order, so a slow spell of a shared machine hits all. */
const ROUNDS = Number(process.env.PODPATTERN_BENCH_ROUNDS ?? 5);
const WARMUP_MS = 500;
const ROUND_MS = Number(process.env.PODPATTERN_BENCH_ROUND_MS ?? 1500);
const MAX_REQUESTS = 200_000;
/** Longer than a --memory-trim-seconds of 10, so a trim has come due in a variant with it. */
const IDLE_AFTER_ROWS_MS = 11_000;
/**
 * Distinct typical reviews at c16 every server answers before the rows, in steps whose CPU per
 * review is printed: V8 goes on compiling podpattern's code through about the first 30,000 (its
 * compiler threads' CPU falls from about an eighth of a review's to a fiftieth), where a replica
 * in a cluster has long settled. The references get the same, so the rows compare settled servers.
 */
const SETTLING_STEPS = 6;
const SETTLING_STEP_REVIEWS = 5_000;
/** Replaced by a counter in every request: each review has its own uid, as from the API server. */
const UID_TOKEN = 'UIDUIDUIDUID';

export const TARGETS = { ratio: 0.45, moonshot: 0.5, p99c64Ms: 5, rssMb: 150 } as const;

interface Row {
  label: string;
  body: string;
  concurrency: number;
  /** Every pod different (SEQ_TOKEN replaced by a counter); otherwise the same pod with new uids (a replica burst). */
  distinct: boolean;
}

/** `pid`: the process serving it, whose CPU time is read around each round. */
type Served = { name: string; port: number; ca: string; pid: number; close: () => Promise<void> };
/** A serve's own: its resident memory, and where it is (memory-parts.ts). */
type Target = Served & { rssMb?: () => Promise<number>; memoryParts?: () => Promise<string> };
/** A round's result and the server's CPU time per request answered in it (µs, every thread). */
type Measured = LoadResult & { cpuUs: number };

export interface ServerBenchResult {
  text: string;
  headlineRatio: number;
  p99c64: number;
  rssMb: number;
}

export async function runServerBench(): Promise<ServerBenchResult> {
  const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const tls = { cert: certs.certPem, key: certs.keyPem, ca: certs.caCertPem };
  const review = (padBytes: number): string => reviewOf(realisticPod(SEQ_TOKEN, padBytes), `b7f0c1e2-3d4a-4b5c-8d6e-${UID_TOKEN}`);
  const typical = review(0);
  const rows = benchRows(typical, review);
  const worker = new LoadWorker();
  const load: Load = async (target, row, warmupMs, durationMs, maxRequests = MAX_REQUESTS) => {
    const cpuBefore = cpuMicros(target.pid);
    const result = await worker.run({
      port: target.port,
      ca: target.ca,
      body: row.body,
      concurrency: row.concurrency,
      warmupMs,
      durationMs,
      maxRequests,
      uidToken: UID_TOKEN,
      ...(row.distinct ? { uniqueToken: SEQ_TOKEN } : {}),
    });
    return { ...result, cpuUs: (cpuMicros(target.pid) - cpuBefore) / result.answered };
  };
  const servers: Target[] = [];
  const baseline = process.env.PODPATTERN_BENCH_BASELINE;
  const bin = fileURLToPath(new URL('../src/bin/podpattern.js', import.meta.url));
  const lines = [
    `server: HTTPS POST /mutate, a Deployment's pod as the API server sends it (${typical.length}-byte review asking for https-proxy + redis-exporter), keep-alive;`,
    `  ${ROUNDS} rounds of ${ROUND_MS / 1000} s per server (after ${WARMUP_MS / 1000} s warm-up), servers in rotating order; req/s over all rounds; p50/p99 and ratios the median round`,
    `  cpu µs: the server process's CPU time (all threads) per request answered, work done rather than time taken; cpu ratio: the bare route's cpu µs over this server's`,
  ];
  const results = new Map<string, { ratio: number; p99: number }>();
  try {
    const podpattern = await startServe('podpattern', bin, tls);
    servers.push(podpattern);
    const others: Target[] = [];
    if (baseline !== undefined) others.push(await startServe('baseline', join(baseline, 'src/bin/podpattern.js'), tls));
    for (const variant of variants(process.env.PODPATTERN_BENCH_VARIANTS)) {
      others.push(await startServe(variant.name, bin, tls, false, variant));
      const env = Object.entries(variant.env).map(([key, value]) => (value === undefined ? `${key} unset` : `${key}=${value}`));
      lines.push(`  ${variant.name}: this build's serve with ${[...variant.flags, ...env].join(' ')}`);
    }
    servers.push(...others);
    lines.push(await settle([podpattern, ...others], tls, typical, load));
    const columns = ['podpattern', ...others.map((o) => o.name), 'node:https'];
    lines.push(
      `  ${'row'.padEnd(21)} | ${'fastify req/s  cpu µs'.padStart(21)} | ${columns.map((c) => `${c} req/s  p50 ms  p99 ms  ratio  cpu µs  cpu ratio`.padStart(c.length + 49)).join(' | ')} | podpattern ratio per round`,
    );
    for (const row of rows) {
      const rounds = await measureRow({ row, podpattern, others, tls, servers, load });
      const summary = summarise(row.label, rounds, columns);
      results.set(row.label, summary);
      lines.push(summary.line);
    }
    const rss = await podpattern.rssMb!();
    const otherRss = await Promise.all(others.map(async (o) => `; ${o.name}: ${(await o.rssMb!()).toFixed(0)} MB`));
    lines.push(
      `  resident memory of 'podpattern serve' (--live-catalog=off: @kubernetes/client-node not loaded) after every row above: ${rss.toFixed(0)} MB${otherRss.join('')}\n    of which ${await podpattern.memoryParts!()}`,
    );
    // What a replica holds between bursts: the same processes once a trim of the C heap has
    // come due with no reviews in between (every second as deployed; 10 s covers a variant's 10).
    await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_ROWS_MS));
    const idle = await Promise.all([podpattern, ...others].map(async (o) => `${o.name} ${(await o.rssMb!()).toFixed(0)} MB`));
    lines.push(`  resident memory ${IDLE_AFTER_ROWS_MS / 1000} s later, no reviews in between: ${idle.join('; ')}`);
    const headline = results.get('distinct, c16') ?? { ratio: NaN, p99: NaN };
    const c64 = results.get('distinct, c64') ?? { ratio: NaN, p99: NaN };
    lines.push(
      `  targets: distinct c16 ratio >= ${TARGETS.ratio}: ${verdict(headline.ratio >= TARGETS.ratio)} (${headline.ratio.toFixed(2)}; moonshot ${TARGETS.moonshot}: ${verdict(headline.ratio >= TARGETS.moonshot)}); ` +
        `distinct c64 p99 <= ${TARGETS.p99c64Ms} ms: ${verdict(c64.p99 <= TARGETS.p99c64Ms)} (${c64.p99.toFixed(2)} ms); RSS <= ${TARGETS.rssMb} MB: ${verdict(rss <= TARGETS.rssMb)}`,
    );
    // The same, with the live catalog on but no cluster to find: the module is loaded, no informer runs.
    const loaded = await startServe('loaded', bin, tls, true);
    servers.push(loaded);
    for (const row of rows.slice(0, 3)) await load(loaded, row, WARMUP_MS, ROUNDS * ROUND_MS);
    lines.push(
      `  resident memory of 'podpattern serve' with @kubernetes/client-node loaded (live catalog on, no cluster found) after the three distinct rows: ${(await loaded.rssMb!()).toFixed(0)} MB\n    of which ${await loaded.memoryParts!()}`,
    );
    return { text: lines.join('\n'), headlineRatio: headline.ratio, p99c64: c64.p99, rssMb: rss };
  } finally {
    worker.stop();
    for (const server of servers) await server.close();
  }
}

/**
 * Every server's first SETTLING_STEPS x SETTLING_STEP_REVIEWS distinct reviews at c16, the
 * references' with podpattern's answer: a line of their CPU per review in each step.
 */
async function settle(serves: Target[], tls: Tls, typical: string, load: Load): Promise<string> {
  const row: Row = { label: 'settling', body: typical, concurrency: 16, distinct: true };
  const answer = Buffer.from((await load(serves[0]!, row, 0, 200)).firstBody);
  const references = [await startFastify(tls, answer), await startNodeHttps(tls, answer)];
  const parts: string[] = [];
  try {
    for (const target of [...serves, ...references]) {
      const steps: number[] = [];
      for (let step = 0; step < SETTLING_STEPS; step += 1) {
        const measured = await load(target, row, 0, 600_000, SETTLING_STEP_REVIEWS);
        steps.push(measured.cpuUs);
      }
      parts.push(`${target.name} ${steps.map((us) => us.toFixed(0)).join(' ')}`);
    }
  } finally {
    for (const reference of references) await reference.close();
  }
  return `  settling: cpu µs per review in each ${SETTLING_STEP_REVIEWS} of every server's first ${SETTLING_STEPS * SETTLING_STEP_REVIEWS} distinct reviews at c16 (before the rows): ${parts.join('; ')}`;
}

/** A server certificate and key, and the CA the load generator trusts. */
type Tls = { cert: string; key: string; ca: string };

/** `maxRequests`: stop after that many measured requests, if durationMs has not passed first. */
type Load = (target: Target, row: Row, warmupMs: number, durationMs: number, maxRequests?: number) => Promise<Measured>;

/**
 * One row's rounds: podpattern's answer checked (injected), then served as a constant by the bare
 * Fastify route and the node:https floor, every server in every round, in a rotating order.
 */
async function measureRow(args: {
  row: Row;
  podpattern: Target;
  others: Target[];
  tls: Tls;
  servers: Target[];
  load: Load;
}): Promise<Map<string, Measured>[]> {
  const { row, podpattern, others, tls, servers, load } = args;
  const check = await load(podpattern, row, 100, 200);
  const answer = JSON.parse(check.firstBody) as { response?: { patchType?: string } };
  if (answer.response?.patchType !== 'JSONPatch') throw new Error(`the bench review was not injected: ${check.firstBody.slice(0, 500)}`);
  // The references answer podpattern's own answer as a constant: the same bytes on the wire.
  const fastify = await startFastify(tls, Buffer.from(check.firstBody));
  const floor = await startNodeHttps(tls, Buffer.from(check.firstBody));
  servers.push(fastify, floor);
  const order = [fastify, podpattern, ...others, floor];
  const rounds: Map<string, Measured>[] = [];
  const roundMs = row.body.length > 512 * 1024 ? ROUND_MS * 2 : ROUND_MS;
  for (let round = 0; round < ROUNDS; round += 1) {
    const results = new Map<string, Measured>();
    for (let i = 0; i < order.length; i += 1) {
      const target = order[(i + round) % order.length]!;
      results.set(target.name, await load(target, row, WARMUP_MS, roundMs));
    }
    rounds.push(results);
  }
  await fastify.close();
  await floor.close();
  servers.splice(servers.indexOf(fastify), 2);
  return rounds;
}

/** Every row, or only those PODPATTERN_BENCH_ROWS='<label>;<label>' names (for a quick comparison). */
function benchRows(typical: string, review: (padBytes: number) => string): Row[] {
  const rows: Row[] = [
    { label: 'distinct, c1', body: typical, concurrency: 1, distinct: true },
    { label: 'distinct, c16', body: typical, concurrency: 16, distinct: true },
    { label: 'distinct, c64', body: typical, concurrency: 64, distinct: true },
    { label: 'replica burst, c16', body: typical, concurrency: 16, distinct: false },
    { label: '64 KiB distinct, c16', body: review(64 * 1024), concurrency: 16, distinct: true },
    { label: '1 MiB distinct, c16', body: review(1024 * 1024), concurrency: 16, distinct: true },
  ];
  const only = process.env.PODPATTERN_BENCH_ROWS?.split(';');
  return only === undefined ? rows : rows.filter((row) => only.includes(row.label));
}

/**
 * One row's line of the table from its rounds: for each column its req/s over all rounds, and the
 * median round's p50, p99, ratio to the bare route and CPU per request; then podpattern's ratio
 * in each round. `ratio` and `p99` are podpattern's, for the targets.
 */
function summarise(label: string, rounds: Map<string, Measured>[], columns: string[]): { line: string; ratio: number; p99: number } {
  const of = (name: string): Measured[] => rounds.map((r) => r.get(name)!);
  const ratios = (name: string): number[] => rounds.map((r) => rate(r.get(name)!) / rate(r.get('fastify')!));
  // The bare route's CPU per request over this server's, round by round: the ratio as work done, not as time.
  const cpuRatios = (name: string): number[] => rounds.map((r) => r.get('fastify')!.cpuUs / r.get(name)!.cpuUs);
  const cells = columns.map((name) => {
    const cpu = median(of(name).map((r) => r.cpuUs));
    return `${perSecond(of(name))
      .toFixed(0)
      .padStart(name.length + 6)} ${median(of(name).map((r) => r.p50))
      .toFixed(2)
      .padStart(7)} ${median(of(name).map((r) => r.p99))
      .toFixed(2)
      .padStart(
        7,
      )} ${median(ratios(name)).toFixed(2).padStart(6)} ${cpu.toFixed(0).padStart(7)} ${median(cpuRatios(name)).toFixed(2).padStart(10)}`;
  });
  const errors = rounds.reduce((n, r) => n + [...r.values()].reduce((m, x) => m + x.errors, 0), 0);
  const fastify = `${perSecond(of('fastify')).toFixed(0).padStart(13)} ${median(of('fastify').map((r) => r.cpuUs))
    .toFixed(0)
    .padStart(7)}`;
  const line = `  ${label.padEnd(21)} | ${fastify} | ${cells.join(' | ')} | ${ratios('podpattern')
    .map((r) => r.toFixed(2))
    .join(' ')}${errors > 0 ? `   ERRORS: ${errors}` : ''}`;
  return { line, ratio: median(ratios('podpattern')), p99: median(of('podpattern').map((r) => r.p99)) };
}

function rate(result: LoadResult): number {
  return result.requests / result.seconds;
}

function perSecond(results: LoadResult[]): number {
  return results.reduce((n, r) => n + r.requests, 0) / results.reduce((n, r) => n + r.seconds, 0);
}

function median(values: number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
}

/**
 * CPU time of every thread of process `pid` so far, in µs: the first field of Linux's
 * /proc/<pid>/task/<tid>/schedstat is nanoseconds on a CPU. NaN where there is no /proc. Unlike
 * requests per second, it hardly moves when other work shares the machine.
 */
function cpuMicros(pid: number): number {
  const tasks = `/proc/${pid}/task`;
  if (!existsSync(tasks)) return NaN;
  let ns = 0;
  for (const tid of readdirSync(tasks)) {
    try {
      ns += Number(readFileSync(join(tasks, tid, 'schedstat'), 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read; its time is lost to both readings' difference
    }
  }
  return ns / 1000;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/**
 * The environment variables the shipped Deployment sets on podpattern (webhook-config/, which a
 * test keeps equal to the chart's): the V8 heap cap in NODE_OPTIONS and MALLOC_ARENA_MAX, so
 * the resident memory measured is that of the process as deployed.
 */
function deployedEnv(): Record<string, string> {
  const text = readFileSync(fileURLToPath(new URL('../../webhook-config/deployment.yaml', import.meta.url)), 'utf8');
  const deployment = parse(text) as {
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  return Object.fromEntries(env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

/** A serve started otherwise: Node flags replacing the deployed ones of the same name, and environment variables set or (undefined) unset. */
interface Variant {
  name: string;
  flags: string[];
  env: Record<string, string | undefined>;
}

/**
 * PODPATTERN_BENCH_VARIANTS='<name>: <item> ...; ...', each item a Node flag (`--max-semi-space-size=8`)
 * or an environment variable (`MALLOC_ARENA_MAX=2`; `NAME=` unsets it), e.g.
 * 'arena2: MALLOC_ARENA_MAX=2; semi8: --max-semi-space-size=8'.
 */
function variants(spec: string | undefined): Variant[] {
  if (spec === undefined || spec.trim() === '') return [];
  return spec.split(';').map((part) => {
    const colon = part.indexOf(':');
    if (colon < 1) throw new Error(`PODPATTERN_BENCH_VARIANTS: "${part}" is not "<name>: <flag or NAME=value> ..."`);
    const items = part
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter((item) => item !== '');
    const env: Record<string, string | undefined> = {};
    for (const item of items.filter((i) => !i.startsWith('--'))) {
      const eq = item.indexOf('=');
      if (eq < 1) throw new Error(`PODPATTERN_BENCH_VARIANTS: "${item}" is neither a --flag nor NAME=value`);
      const value = item.slice(eq + 1);
      env[item.slice(0, eq)] = value === '' ? undefined : value;
    }
    return { name: part.slice(0, colon).trim(), flags: items.filter((i) => i.startsWith('--')), env };
  });
}

/** The deployed flags with a variant's: a variant's flag replaces the deployed one of the same name. */
function nodeFlags(variant: Variant | undefined): string[] {
  const flagName = (flag: string): string => flag.split('=')[0]!;
  const extra = variant?.flags ?? [];
  return [...SERVE_NODE_FLAGS.filter((f) => !extra.some((e) => flagName(e) === flagName(f))), ...extra];
}

/**
 * A real `podpattern serve` from `bin`, as deployed: its certificate and key are files at its
 * default paths in a temporary directory, as the chart mounts its Secret (so it generates none),
 * and its log lines go to a file there, as a container's stdout goes to a file. `liveCatalog` on,
 * with HOME in that directory, finds no cluster: @kubernetes/client-node is loaded but no
 * informer runs. Its two ports are picked here and it is ready when `/readyz` says so, so a
 * variant may set any log level.
 */
async function startServe(name: string, bin: string, tls: Tls, liveCatalog = false, variant?: Variant): Promise<Target> {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-bench-'));
  mkdirSync(join(cwd, 'certs'));
  writeFileSync(join(cwd, 'certs', 'tls.crt'), tls.cert);
  writeFileSync(join(cwd, 'certs', 'tls.key'), tls.key, { mode: 0o600 });
  const log = join(cwd, 'serve.log');
  const [port, healthPort] = await freePorts();
  const env: NodeJS.ProcessEnv = { ...process.env, ...deployedEnv(), HOME: cwd };
  delete env.KUBECONFIG;
  delete env.KUBERNETES_SERVICE_HOST;
  for (const [key, value] of Object.entries(variant?.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags(variant),
      bin,
      'serve',
      '--host=127.0.0.1',
      `--port=${port}`,
      `--health-port=${healthPort}`,
      '--drain-seconds=0',
      '--exit-with-parent=on',
      `--live-catalog=${liveCatalog ? 'auto' : 'off'}`,
    ],
    {
      cwd,
      env,
      stdio: ['ignore', openSync(log, 'w'), 'inherit'],
    },
  );
  const close = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await ready(healthPort))) {
    if (child.exitCode !== null) throw new Error(`podpattern serve (${bin}) exited (${child.exitCode}); its log: ${log}`);
    if (Date.now() > deadline) {
      await close();
      throw new Error(`podpattern serve (${bin}) was not ready within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const rssMb = async (): Promise<number> => {
    const rss = /^(?:podpattern_)?process_resident_memory_bytes (\d+)/m.exec(await metrics())?.[1];
    if (rss === undefined) throw new Error('podpattern serve reported no resident memory');
    return Number(rss) / 2 ** 20;
  };
  const pid = child.pid as number;
  return { name, port, ca: tls.ca, pid, close, rssMb, memoryParts: async () => describeMemoryParts(memoryParts(pid, await metrics())) };
}

/** Two free loopback ports: both are held at once, so they differ. */
async function freePorts(): Promise<[number, number]> {
  const held = [createNetServer().listen(0, '127.0.0.1'), createNetServer().listen(0, '127.0.0.1')];
  await Promise.all(held.map((server) => once(server, 'listening')));
  const [port, healthPort] = held.map((server) => (server.address() as AddressInfo).port) as [number, number];
  await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
  return [port, healthPort];
}

/** Whether a serve's `/readyz` answers 200 (its certificate and catalog loaded, its port open). */
async function ready(healthPort: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok;
  } catch {
    return false;
  }
}

/** The reference: the same TLS and transport settings, Fastify's JSON parsing, a constant answer. */
async function startFastify(tls: Tls, answer: Buffer): Promise<Target> {
  const app = Fastify({ https: { cert: tls.cert, key: tls.key }, bodyLimit: BODY_LIMIT_BYTES, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
  app.post('/mutate', async (request, reply) => {
    void request.body;
    void reply.type('application/json; charset=utf-8');
    return answer;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { name: 'fastify', port: (app.server.address() as { port: number }).port, ca: tls.ca, pid: process.pid, close: () => app.close() };
}

/** The floor: node:https reading the body, JSON.parse, a constant answer. */
async function startNodeHttps(tls: Tls, answer: Buffer): Promise<Target> {
  const server = createHttpsServer({ cert: tls.cert, key: tls.key, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': answer.length });
      response.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name: 'node:https',
    port: (server.address() as { port: number }).port,
    ca: tls.ca,
    pid: process.pid,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The load generator: one child process for the whole run, one job at a time. */
class LoadWorker {
  private readonly child: ChildProcess;
  constructor() {
    const self = new URL(import.meta.url);
    this.child = fork(new URL(self.pathname.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', self), { stdio: 'inherit' });
  }

  run(job: LoadJob): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the load generator exited (${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (message: LoadResult | { error: string }) => {
        this.child.off('exit', onExit);
        if ('error' in message) reject(new Error(message.error));
        else resolve(message);
      });
      this.child.send(job);
    });
  }

  stop(): void {
    this.child.kill();
  }
}
