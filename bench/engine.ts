// Engine micro-benchmark: microseconds per injection for a typical pod with two templates, a
// 64 KiB pod and a 1 MiB pod. Target (issue 2): typical pod under 100 µs median.
import { buildCatalog, loadBuiltinTemplates } from '../src/catalog/index.js';
import { inject, type PodLike } from '../src/engine/index.js';

const OPTIONS = { nativeSidecars: 'never', namespace: 'bench' } as const;

/** A pod asking for two built-in templates, padded with env vars up to `bytes` of JSON. */
export function benchPod(bytes: number): PodLike {
  const pod: PodLike = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f8',
      namespace: 'bench',
      labels: { app: 'web', 'app.kubernetes.io/name': 'web' },
      annotations: {
        'podpattern.dev/sidecar': 'https-proxy',
        'https-proxy.podpattern.dev/tls-secret': 'web-tls',
        'podpattern.dev/adapter': 'redis-exporter',
      },
    },
    spec: {
      containers: [{ name: 'app', image: 'example.org/web:1.0', ports: [{ containerPort: 8080 }], env: [] as { name: string; value: string }[] }],
    },
  };
  const env = pod.spec!.containers[0]!.env!;
  for (let i = 0; JSON.stringify(pod).length < bytes; i++) env.push({ name: `PAD_${i}`, value: 'x'.repeat(200) });
  return pod;
}

function measure(pod: PodLike, iterations: number): { median: number; p99: number } {
  const catalog = buildCatalog([loadBuiltinTemplates()]);
  const first = inject(pod, catalog, OPTIONS);
  if (first.outcome !== 'injected') throw new Error(`bench pod was not injected: ${JSON.stringify(first)}`);
  for (let i = 0; i < Math.min(iterations, 200); i++) inject(pod, catalog, OPTIONS); // warm up
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    inject(pod, catalog, OPTIONS);
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)] as number, p99: samples[Math.floor(samples.length * 0.99)] as number };
}

export function runEngineBench(): string {
  const rows = [
    { label: 'typical pod, 2 templates', pod: benchPod(0), iterations: 5000 },
    { label: '64 KiB pod, 2 templates', pod: benchPod(64 * 1024), iterations: 1000 },
    { label: '1 MiB pod, 2 templates', pod: benchPod(1024 * 1024), iterations: 60 },
  ];
  const lines = ['engine: µs per injection (median, p99)'];
  let typical = 0;
  for (const row of rows) {
    const { median, p99 } = measure(row.pod, row.iterations);
    if (typical === 0) typical = median;
    lines.push(`  ${row.label.padEnd(26)} ${median.toFixed(1).padStart(9)} µs ${p99.toFixed(1).padStart(9)} µs   ${(median / typical).toFixed(1)}x typical`);
  }
  lines.push(`  target: typical median under 100 µs: ${typical < 100 ? 'met' : 'NOT met'} (${(typical / 100).toFixed(2)} of the budget)`);
  return lines.join('\n');
}
