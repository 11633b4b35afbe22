// Engine micro-benchmark: microseconds per injection, each injection a different pod (as pods
// arrive from different Deployments), for the typical pod (bench/pod.ts, two templates), a
// 64 KiB and a 1 MiB pod. Target: the typical pod's median at most 30 µs, once settled.
//
// The typical pod is measured twice: cold, its first 5,000 injections after 200 (V8 is still
// compiling the engine then), and settled, 5,000 more after SETTLING_PODS other distinct pods, as
// in a replica that has served for a while. Both are printed; the target is read on the settled one.
import { buildCatalog, loadBuiltinTemplates } from '../src/catalog/index.js';
import type { Catalog } from '../src/model/template.js';
import { inject, type PodLike } from '../src/engine/index.js';
import { realisticPod } from './pod.js';

const OPTIONS = { nativeSidecars: 'auto', namespace: 'shop' } as const;
export const ENGINE_TARGET_US = 30;
/** Distinct pods injected between the cold and the settled measurement, made and dropped in batches. */
const SETTLING_PODS = 20_000;

function measure(catalog: Catalog, pods: PodLike[], iterations: number, warmUp: number): { median: number; p99: number } {
  const first = inject(pods[0]!, catalog, OPTIONS);
  if (first.outcome !== 'injected') throw new Error(`bench pod was not injected: ${JSON.stringify(first)}`);
  for (let i = 0; i < warmUp; i++) inject(pods[i % pods.length]!, catalog, OPTIONS);
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const pod = pods[i % pods.length]!;
    const start = process.hrtime.bigint();
    inject(pod, catalog, OPTIONS);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)] as number, p99: samples[Math.floor(samples.length * 0.99)] as number };
}

/** `count` different pods named from `first` on (a fresh object each, as JSON.parse makes one per review). */
function distinctPods(count: number, padBytes: number, first = 0): PodLike[] {
  return Array.from({ length: count }, (_, i) => JSON.parse(JSON.stringify(realisticPod(String(first + i), padBytes))) as PodLike);
}

export function runEngineBench(): { text: string; typicalMedianUs: number } {
  const catalog = buildCatalog([loadBuiltinTemplates()]);
  const lines = ['engine: µs per injection, every pod distinct (median, p99)'];
  const line = (label: string, { median, p99 }: { median: number; p99: number }, typical: number): string =>
    `  ${label.padEnd(26)} ${median.toFixed(1).padStart(9)} µs ${p99.toFixed(1).padStart(9)} µs   ${(median / typical).toFixed(1)}x typical`;
  const cold = measure(catalog, distinctPods(5000, 0), 5000, 200);
  for (let made = 5000; made < 5000 + SETTLING_PODS; made += 5000) {
    for (const pod of distinctPods(5000, 0, made)) inject(pod, catalog, OPTIONS);
  }
  const settled = measure(catalog, distinctPods(5000, 0, 5000 + SETTLING_PODS), 5000, 0);
  const typical = settled.median;
  lines.push(line('typical pod, cold', cold, typical), line('typical pod, settled', settled, typical));
  const rows = [
    { label: '64 KiB pod, 2 templates', pods: distinctPods(200, 64 * 1024), iterations: 1000 },
    { label: '1 MiB pod, 2 templates', pods: distinctPods(10, 1024 * 1024), iterations: 60 },
  ];
  for (const row of rows) lines.push(line(row.label, measure(catalog, row.pods, row.iterations, Math.min(row.iterations, 200)), typical));
  lines.push(
    `  cold: the first 5000 after 200; settled: 5000 more after ${SETTLING_PODS} other distinct pods`,
    `  target: typical median (settled) <= ${ENGINE_TARGET_US} µs: ${typical <= ENGINE_TARGET_US ? 'met' : 'NOT met'} (${typical.toFixed(1)} µs)`,
  );
  return { text: lines.join('\n'), typicalMedianUs: typical };
}
