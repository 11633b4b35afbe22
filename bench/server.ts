// Server benchmark (issue 3): HTTPS POST /mutate of podpattern, with the real engine, built-in
// catalog, logging and metrics, against a bare Fastify HTTPS route that parses the same body and
// returns a constant answer. Concurrency 1, 16 and 64 over keep-alive, loopback only, bounded by
// time and count. Both servers run in this process; the load generator in a child process.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { pino } from 'pino';
import { buildCatalog, loadBuiltinTemplates } from '../src/catalog/index.js';
import { memoizeInject } from '../src/admission/memo.js';
import { ReplayCache } from '../src/admission/replay.js';
import { generateCertificates } from '../src/certs/generate.js';
import { inject } from '../src/engine/index.js';
import { createMetrics } from '../src/metrics/index.js';
import { buildApp, BODY_LIMIT_BYTES, KEEP_ALIVE_TIMEOUT_MS } from '../src/server/app.js';
import { Lifecycle } from '../src/server/lifecycle.js';
import { SERVE_NODE_FLAGS } from '../src/server/node-flags.js';
import { LineBatcher } from '../src/log/line-batcher.js';
import { benchPod } from './engine.js';
import type { LoadJob, LoadResult } from './load-worker.js';

const CONCURRENCY = [1, 16, 64];
/** Each server is measured in alternating rounds, so a slow spell of a shared machine hits both. */
const ROUNDS = 5;
const WARMUP_MS = 500;
const ROUND_MS = 1500;
const MAX_REQUESTS = 200_000;
/** Replaced by a counter in every request: each review has its own uid, as from the API server. */
const UID_TOKEN = 'UIDUIDUIDUID';

type Target = { port: number; ca: string; close: () => Promise<void> };

export async function runServerBench(): Promise<string> {
  const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const tls = { cert: certs.certPem, key: certs.keyPem, ca: certs.caCertPem };
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `b7f0c1e2-3d4a-4b5c-8d6e-${UID_TOKEN}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'bench',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: benchPod(0),
      dryRun: false,
    },
  });

  const worker = new LoadWorker();
  const load = (target: Target, text: string, concurrency: number, warmupMs: number, durationMs: number, uniqueToken?: string): Promise<LoadResult> =>
    worker.run({ port: target.port, ca: target.ca, body: text, concurrency, warmupMs, durationMs, maxRequests: MAX_REQUESTS, uidToken: UID_TOKEN, ...(uniqueToken === undefined ? {} : { uniqueToken }) });
  const podpattern = await startPodpattern(tls);
  let bare: Target | undefined;
  const lines = [
    `server: HTTPS POST /mutate, ${body.length}-byte review asking for https-proxy + redis-exporter, keep-alive; ` +
      `${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per server (after ${WARMUP_MS / 1000} s warm-up each); req/s over all rounds, p50/p99 and ratio the median round`,
    '  conc |        bare route: req/s   p50 ms   p99 ms |        podpattern: req/s   p50 ms   p99 ms | ratio | ratio per round',
  ];
  let c16: { ratio: number; p99: number } | undefined;
  try {
    const check = await load(podpattern, body, 1, 200, 200);
    const checked = JSON.parse(check.firstBody) as { response?: { patchType?: string } };
    if (checked.response?.patchType !== 'JSONPatch') throw new Error(`the bench review was not injected: ${check.firstBody}`);
    // The baseline answers with podpattern's own answer as a constant: the same bytes on the
    // wire, so the ratio measures the work of deciding, not the length of the patch.
    bare = await startBare(tls, Buffer.from(check.firstBody));
    const compare = async (text: string, concurrency: number, uniqueToken?: string): Promise<{ line: string; ratio: number; p99: number }> => {
      const rounds: { b: LoadResult; p: LoadResult; ratio: number }[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const b = await load(bare!, text, concurrency, WARMUP_MS, ROUND_MS, uniqueToken);
        const p = await load(podpattern, text, concurrency, WARMUP_MS, ROUND_MS, uniqueToken);
        rounds.push({ b, p, ratio: rate(p) / rate(b) });
      }
      const ratio = median(rounds, (r) => r.ratio);
      const errors = rounds.reduce((n, r) => n + r.b.errors + r.p.errors, 0);
      const line =
        `${summary(rounds.map((r) => r.b))} | ${summary(rounds.map((r) => r.p))} | ${ratio.toFixed(2).padStart(5)} | ${rounds.map((r) => r.ratio.toFixed(2)).join(' ')}` +
        (errors > 0 ? `   ERRORS: ${errors}` : '');
      return { line, ratio, p99: median(rounds.map((r) => r.p), (r) => r.p99) };
    };
    for (const concurrency of CONCURRENCY) {
      const result = await compare(body, concurrency);
      if (concurrency === 16) c16 = result;
      lines.push(`  ${String(concurrency).padStart(4)} | ${result.line}`);
    }
    // Every pod different (a label carries a counter): nothing remembered can answer, the engine runs each time.
    const distinct = body.replace('"app":"web"', '"app":"web","bench/seq":"SEQ"');
    lines.push(`  16 d | ${(await compare(distinct, 16, 'SEQ')).line}   (d: every pod distinct)`);
  } finally {
    worker.stop();
    await podpattern.close();
    await bare?.close();
  }
  const benchRssMb = process.memoryUsage().rss / 2 ** 20;
  lines.push(`  resident memory of this process (both servers) after the run: ${benchRssMb.toFixed(0)} MB`);
  const serveRssMb = await residentMemoryOfServe(body);
  lines.push(`  resident memory of 'podpattern serve' alone after the same load (c1, c16, c64), from its /metrics: ${serveRssMb.toFixed(0)} MB`);
  lines.push(
    `  targets at concurrency 16: ratio >= 0.8: ${verdict((c16?.ratio ?? 0) >= 0.8)} (${c16?.ratio.toFixed(2)}); ` +
      `p99 < 5 ms: ${verdict((c16?.p99 ?? Infinity) < 5)} (${c16?.p99.toFixed(2)} ms); RSS of podpattern serve < 150 MB: ${verdict(serveRssMb < 150)}`,
  );
  return lines.join('\n');
}

function rate(result: LoadResult): number {
  return result.requests / result.seconds;
}

function median<T>(values: T[], by: (value: T) => number): number {
  return values.map(by).sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
}

/** One server's columns of a row: req/s over all its rounds, then the median round's p50 and p99. */
function summary(results: LoadResult[]): string {
  const perSecond = results.reduce((n, r) => n + r.requests, 0) / results.reduce((n, r) => n + r.seconds, 0);
  return `${perSecond.toFixed(0).padStart(26)} ${median(results, (r) => r.p50).toFixed(2).padStart(8)} ${median(results, (r) => r.p99).toFixed(2).padStart(8)}`;
}

/** Starts the real `podpattern serve` (dev certificates in a temporary directory), loads it, reads its RSS. */
async function residentMemoryOfServe(body: string): Promise<number> {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-bench-'));
  const bin = fileURLToPath(new URL('../src/bin/podpattern.js', import.meta.url));
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, bin, 'serve', '--host=127.0.0.1', '--port=0', '--health-port=0', '--drain-seconds=0', '--live-catalog=off'], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ports = await new Promise<{ port: number; healthPort: number }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const parsed = JSON.parse(line) as { msg?: string; port?: number; healthPort?: number };
        if (parsed.msg === 'podpattern serving') resolve({ port: parsed.port as number, healthPort: parsed.healthPort as number });
      });
      child.once('exit', (code) => reject(new Error(`podpattern serve exited (${code})`)));
      setTimeout(() => reject(new Error('podpattern serve did not start within 30 s')), 30_000).unref();
    });
    const worker = new LoadWorker();
    const target: Target = { port: ports.port, ca: readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8'), close: async () => {} };
    try {
      for (const concurrency of CONCURRENCY) await worker.run({ port: target.port, ca: target.ca, body, concurrency, warmupMs: WARMUP_MS, durationMs: ROUNDS * ROUND_MS, maxRequests: MAX_REQUESTS, uidToken: UID_TOKEN });
    } finally {
      worker.stop();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${ports.healthPort}/metrics`)).text();
    const rss = /^podpattern_process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1];
    if (rss === undefined) throw new Error('podpattern serve reported no resident memory');
    return Number(rss) / 2 ** 20;
  } finally {
    child.kill('SIGTERM');
    rmSync(cwd, { recursive: true, force: true });
  }
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/** podpattern's own app, wired as main wires it (engine results remembered); one pino line per review to /dev/null. */
async function startPodpattern(tls: { cert: string; key: string; ca: string }): Promise<Target> {
  const catalog = buildCatalog([loadBuiltinTemplates()]);
  // As main.ts logs: synchronous writes in batches of a few milliseconds.
  const logger = pino({ level: 'info' }, new LineBatcher(pino.destination({ dest: '/dev/null', sync: true })));
  const app = buildApp({
    logger, metrics: createMetrics(), lifecycle: new Lifecycle(), inject: memoizeInject(inject), replay: new ReplayCache(), catalog: () => catalog,
    nativeSidecars: 'auto', failureMode: 'open', tls: { cert: tls.cert, key: tls.key },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, ca: tls.ca, close: () => app.close() };
}

/** The baseline: the same TLS and transport settings, Fastify's JSON parsing, a constant answer. */
async function startBare(tls: { cert: string; key: string; ca: string }, answer: Buffer): Promise<Target> {
  const app = Fastify({ https: { cert: tls.cert, key: tls.key }, bodyLimit: BODY_LIMIT_BYTES, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
  app.post('/mutate', async (request, reply) => {
    void request.body;
    void reply.type('application/json; charset=utf-8');
    return answer;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as { port: number }).port, ca: tls.ca, close: () => app.close() };
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
