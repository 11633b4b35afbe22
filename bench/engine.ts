// Engine micro-benchmark: microseconds per injection, each injection a different pod (as pods
// arrive from different Deployments), for the typical pod (bench/pod.ts, two templates), a
// 64 KiB and a 1 MiB pod. Target: the typical pod's median at most 30 µs.
import { buildCatalog, loadBuiltinTemplates } from '../src/catalog/index.js';
import { inject, type PodLike } from '../src/engine/index.js';
import { realisticPod } from './pod.js';

const OPTIONS = { nativeSidecars: 'auto', namespace: 'shop' } as const;
export const ENGINE_TARGET_US = 30;

function measure(pods: PodLike[], iterations: number): { median: number; p99: number } {
  const catalog = buildCatalog([loadBuiltinTemplates()]);
  const first = inject(pods[0]!, catalog, OPTIONS);
  if (first.outcome !== 'injected') throw new Error(`bench pod was not injected: ${JSON.stringify(first)}`);
  for (let i = 0; i < Math.min(iterations, 200); i++) inject(pods[i % pods.length]!, catalog, OPTIONS); // warm up
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

/** `count` different pods (a fresh object each, as JSON.parse makes one per review). */
function distinctPods(count: number, padBytes: number): PodLike[] {
  return Array.from({ length: count }, (_, i) => JSON.parse(JSON.stringify(realisticPod(String(i), padBytes))) as PodLike);
}

export function runEngineBench(): { text: string; typicalMedianUs: number } {
  const rows = [
    { label: 'typical pod, 2 templates', pods: distinctPods(5000, 0), iterations: 5000 },
    { label: '64 KiB pod, 2 templates', pods: distinctPods(200, 64 * 1024), iterations: 1000 },
    { label: '1 MiB pod, 2 templates', pods: distinctPods(10, 1024 * 1024), iterations: 60 },
  ];
  const lines = ['engine: µs per injection, every pod distinct (median, p99)'];
  let typical = 0;
  for (const row of rows) {
    const { median, p99 } = measure(row.pods, row.iterations);
    if (typical === 0) typical = median;
    lines.push(
      `  ${row.label.padEnd(26)} ${median.toFixed(1).padStart(9)} µs ${p99.toFixed(1).padStart(9)} µs   ${(median / typical).toFixed(1)}x typical`,
    );
  }
  lines.push(
    `  target: typical median <= ${ENGINE_TARGET_US} µs: ${typical <= ENGINE_TARGET_US ? 'met' : 'NOT met'} (${typical.toFixed(1)} µs)`,
  );
  return { text: lines.join('\n'), typicalMedianUs: typical };
}
