// Two or more builds of the engine in one process, alternating rounds over the same kind of
// distinct pods as bench/engine.ts: µs per injection (median, p99) and bytes allocated per
// injection, so a change is judged against its baseline in the same minutes of a shared machine.
//
//   npm run build && cp -r dist /tmp/before   # (on the commit to compare with; a copy of its dist/)
//   node --expose-gc --max-semi-space-size=8   dist/bench/engine-compare.js /tmp/before dist   # time
//   node --expose-gc --max-semi-space-size=128 dist/bench/engine-compare.js /tmp/before dist   # bytes
//
// A build's dist/ must sit where it finds this checkout's node_modules (inside the checkout,
// or next to a node_modules link). Bytes are the growth of heapUsed over a window of
// injections after a full GC, counted only for windows in which no GC ran (a large semi-space
// makes them so; the timings of that run are not the bench's): the time is read from the run
// with the bench's 8 MB semi-space.
import path from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Catalog } from '../src/model/template.js';
import type { InjectOptions, InjectionResult, PodLike } from '../src/engine/index.js';

interface Build {
  dir: string;
  catalog: Catalog;
  inject: (pod: PodLike, catalog: Catalog, options: InjectOptions) => InjectionResult;
  realisticPod: (seq: string) => PodLike;
  samples: number[];
  windows: { bytes: number; from: number; to: number }[];
}

const OPTIONS: InjectOptions = { nativeSidecars: 'auto', namespace: 'shop' };
const PODS = 5000;
const BYTES_WINDOW = 200;
const ROUNDS = Number(process.env.ROUNDS ?? 6);

async function load(dir: string): Promise<Build> {
  const from = (file: string): Promise<Record<string, unknown>> =>
    import(pathToFileURL(path.resolve(dir, file)).href) as Promise<Record<string, unknown>>;
  const catalogModule = (await from('src/catalog/index.js')) as unknown as typeof import('../src/catalog/index.js');
  const engine = (await from('src/engine/index.js')) as unknown as typeof import('../src/engine/index.js');
  const pods = (await from('bench/pod.js')) as unknown as typeof import('./pod.js');
  const catalog = catalogModule.buildCatalog([catalogModule.loadBuiltinTemplates()]);
  return { dir, catalog, inject: engine.inject, realisticPod: (seq) => pods.realisticPod(seq), samples: [], windows: [] };
}

/** Fresh distinct pods, parsed as a review's body would be. */
function podsFor(build: Build): PodLike[] {
  return Array.from({ length: PODS }, (_, i) => JSON.parse(JSON.stringify(build.realisticPod(String(i)))) as PodLike);
}

function round(build: Build): void {
  const pods = podsFor(build);
  const gc = (globalThis as { gc?: () => void }).gc;
  let first = 0;
  if (gc !== undefined) {
    gc();
    const from = performance.now();
    const before = process.memoryUsage().heapUsed;
    for (; first < BYTES_WINDOW; first += 1) build.inject(pods[first]!, build.catalog, OPTIONS);
    build.windows.push({ bytes: (process.memoryUsage().heapUsed - before) / BYTES_WINDOW, from, to: performance.now() });
  }
  for (let i = first; i < pods.length; i += 1) {
    const start = process.hrtime.bigint();
    build.inject(pods[i]!, build.catalog, OPTIONS);
    build.samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
}

function at(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dirs = process.argv.slice(2);
  if (dirs.length === 0) throw new Error('usage: engine-compare.js <dist> [<dist> ...]');
  const builds = await Promise.all(dirs.map(load));
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  for (const build of builds) {
    const pods = podsFor(build);
    for (let i = 0; i < 2000; i += 1) build.inject(pods[i]!, build.catalog, OPTIONS); // warm up
  }
  for (let r = 0; r < ROUNDS; r += 1) for (const build of r % 2 === 0 ? builds : [...builds].reverse()) round(build);
  await new Promise((resolve) => setTimeout(resolve, 100)); // GC entries arrive asynchronously
  observer.disconnect();
  for (const build of builds) {
    const samples = build.samples.sort((a, b) => a - b);
    const clean = build.windows.filter((w) => !gcs.some((t) => t >= w.from && t <= w.to));
    const bytes = clean.map((w) => w.bytes).sort((a, b) => a - b);
    const kb =
      build.windows.length === 0
        ? 'run with --expose-gc for bytes'
        : bytes.length === 0
          ? 'a GC ran in every bytes window: run with --max-semi-space-size=128 for bytes'
          : `${(at(bytes, 0.5) / 1024).toFixed(1)} KB per injection`;
    process.stdout.write(
      `${build.dir.padEnd(24)} median ${at(samples, 0.5).toFixed(1)} µs  p99 ${at(samples, 0.99).toFixed(1)} µs  ${kb}\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`engine-compare failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
