// CPU profile of `podpattern serve` answering distinct reviews (bench/pod.ts) at concurrency 16:
// `node dist/bench/profile.js [seconds] [a checkout's dist/]`. Runs serve with --cpu-prof, loads
// it from the load generator, and prints where the CPU went per review, by the profile's self
// time: by kind of work (from each sample's stack), then the busiest functions. The profiler
// inflates every figure; compare shares, or two builds profiled one after the other.
// PODPATTERN_PROFILE_KEEP=1 keeps the profile (and serve's log) and prints where.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../src/server/node-flags.js';
import type { LoadJob, LoadResult } from './load-worker.js';
import { SEQ_TOKEN, realisticPod, reviewOf } from './pod.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Kinds of work, tried in order against the stack of a sample (innermost frame first). */
const KINDS: [string, (top: string, stack: string) => boolean][] = [
  ['garbage collector', (top) => top.startsWith('(garbage collector)')],
  ['engine: patch', (_top, stack) => /engine\/patch\.js|fast-json-patch/.test(stack) && /engine\//.test(stack)],
  ['engine', (_top, stack) => /src\/engine\//.test(stack)],
  ['logging (pino)', (_top, stack) => /pino|sonic-boom/.test(stack)],
  ['metrics (prom-client)', (_top, stack) => /prom-client/.test(stack)],
  ['read, decide, encode', (_top, stack) => /src\/admission\/|src\/server\/app\.js|src\/events\//.test(stack)],
  ['TLS and socket writes', (top) => /writev|writeGeneric|TLS|tls|crypto|onStreamRead|Socket/.test(top)],
  ['Fastify', (_top, stack) => /fastify|find-my-way|avvio/.test(stack)],
  ['node:http', (_top, stack) => /_http_/.test(stack)],
];

export function summarise(profile: Profile, reviews: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const kinds = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const frames: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      frames.push(`${f.functionName} ${f.url}`);
    }
    const top = frames[0] ?? '';
    if (top.startsWith('(idle)')) continue;
    busy += us;
    const stack = frames.join('|');
    const kind = KINDS.find(([, test]) => test(top, stack))?.[0] ?? 'other';
    kinds.set(kind, (kinds.get(kind) ?? 0) + us);
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const lines = [`${reviews} reviews, ${(busy / reviews).toFixed(0)} µs of CPU per review under the profiler`];
  for (const [kind, us] of [...kinds].sort((a, b) => b[1] - a[1]))
    lines.push(`  ${kind.padEnd(24)} ${(us / reviews).toFixed(1).padStart(7)} µs  ${((100 * us) / busy).toFixed(0).padStart(3)}%`);
  lines.push('  busiest functions (self time):');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 15))
    lines.push(`    ${(us / reviews).toFixed(1).padStart(7)} µs  ${name}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 8);
  const bin =
    process.argv[3] === undefined
      ? fileURLToPath(new URL('../src/bin/podpattern.js', import.meta.url))
      : join(process.argv[3], 'src/bin/podpattern.js');
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-profile-'));
  const log = join(cwd, 'serve.log');
  const child = spawn(
    process.execPath,
    [
      ...SERVE_NODE_FLAGS,
      '--cpu-prof',
      `--cpu-prof-dir=${join(cwd, 'profile')}`,
      bin,
      'serve',
      '--host=127.0.0.1',
      '--port=0',
      '--health-port=0',
      '--drain-seconds=0',
      '--exit-with-parent=on',
      '--live-catalog=off',
    ],
    { cwd, stdio: ['ignore', openSync(log, 'w'), 'inherit'] },
  );
  const worker = fork(new URL('./load-worker.js', import.meta.url));
  try {
    let port: number | undefined;
    let healthPort = 0;
    for (let waited = 0; port === undefined; waited += 100) {
      if (waited > 30_000 || child.exitCode !== null) throw new Error('podpattern serve did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const serving = readFileSync(log, 'utf8')
        .split('\n')
        .find((line) => line.includes('"podpattern serving"'));
      if (serving !== undefined) ({ port, healthPort } = JSON.parse(serving) as { port: number; healthPort: number });
    }
    const job: LoadJob = {
      port,
      ca: readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8'),
      body: reviewOf(realisticPod(SEQ_TOKEN), 'b7f0c1e2-3d4a-4b5c-8d6e-UIDUIDUIDUID'),
      concurrency: 16,
      warmupMs: 1000,
      durationMs: seconds * 1000,
      maxRequests: 1_000_000,
      uidToken: 'UIDUIDUIDUID',
      uniqueToken: SEQ_TOKEN,
    };
    await new Promise<LoadResult>((resolve) => {
      worker.once('message', resolve);
      worker.send(job);
    });
    // Every review answered, the warm-up's too (they are in the profile as well), from serve's own counter.
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    const reviews = [...metrics.matchAll(/^podpattern_reviews_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const dir = join(cwd, 'profile');
    const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')) as Profile;
    process.stdout.write(`${summarise(profile, reviews)}\n`);
  } finally {
    worker.kill();
    if (child.exitCode === null) child.kill('SIGKILL');
    if (process.env.PODPATTERN_PROFILE_KEEP === undefined) rmSync(cwd, { recursive: true, force: true });
    else process.stdout.write(`kept ${cwd}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`profile failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
