// The index of injected pods and the impact check, measured: the heap the index holds for
// 10,000 injected pods (500 Deployments of 20 pods in 50 namespaces, each Deployment with its
// own upstream-port, metadata as the watch delivers it: annotations with the status and
// rendered files, labels, ownerReferences, managedFields), beside the heap the same pods'
// metadata takes when cached whole (what client-node's informer would keep); and the impact
// check's time per owner group for a change that alters every workload's next pod (two
// renders and a compare each). Run: `npm run build && node dist/bench/impact.js`.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { V1ObjectMeta } from '#kube';
import { LiveCatalog } from '../src/catalog/live.js';
import { validateTemplate } from '../src/catalog/validate.js';
import { templateOfObject } from '../src/catalog/live.js';
import { inject } from '../src/engine/index.js';
import { checkImpact } from '../src/impact/check.js';
import { InjectedPodIndex } from '../src/impact/pod-index.js';

let gc: () => void = () => undefined;

const PODS = 10_000;
const PER_WORKLOAD = 20;
const NAMESPACES = 50;

function proxy(image: string): unknown {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'edge-proxy' },
    spec: {
      pattern: 'sidecar',
      description: 'Terminates TLS in front of the app.',
      parameters: { 'upstream-port': { type: 'integer', default: 8080, minimum: 1, maximum: 65535 } },
      containers: [{ name: 'edge-proxy', image, args: ['-c', '/etc/edge/nginx.conf'], ports: [{ containerPort: 8443 }] }],
      files: {
        'nginx.conf':
          'events {}\nhttp { server { listen 8443 ssl; location / { proxy_pass http://127.0.0.1:$(params.upstream-port); } } }\n',
      },
    },
  };
}

/** The metadata of `PODS` injected pods as the watch's JSON lines carry them. */
function podsMetadata(live: LiveCatalog): string[] {
  const byWorkload = new Map<number, V1ObjectMeta>();
  const pods: string[] = [];
  for (let i = 0; i < PODS; i += 1) {
    const w = Math.floor(i / PER_WORKLOAD);
    let base = byWorkload.get(w);
    if (base === undefined) {
      const namespace = `team-${w % NAMESPACES}`;
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `web-${w}-5d8f7c9b4-`,
          namespace,
          labels: { app: `web-${w}`, 'pod-template-hash': '5d8f7c9b4' },
          annotations: { 'podpattern.dev/sidecar': 'edge-proxy', 'edge-proxy.podpattern.dev/upstream-port': String(3000 + w) },
        },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      };
      const result = inject(pod, live.current(), { nativeSidecars: 'auto', namespace });
      if (result.outcome !== 'injected') throw new Error('the bench pod was not injected');
      base = result.pod.metadata!;
      byWorkload.set(w, base);
    }
    const name = `${base.generateName}${i.toString(36).padStart(5, 'x')}`;
    pods.push(
      JSON.stringify({
        ...base,
        name,
        uid: `0a1b2c3d-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resourceVersion: String(100000 + i),
        creationTimestamp: '2026-12-06T01:00:00Z',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `web-${w}-5d8f7c9b4`,
            uid: `rs-${w}`,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
        managedFields: [
          {
            manager: 'kube-controller-manager',
            operation: 'Update',
            apiVersion: 'v1',
            time: '2026-12-06T01:00:00Z',
            fieldsType: 'FieldsV1',
            fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {} }, 'f:ownerReferences': {} } },
          },
        ],
      }),
    );
  }
  return pods;
}

/** The heap what `make` returns holds: measured as what is freed when it is dropped. */
function sizeOf(make: () => unknown): number {
  let made: unknown = make();
  const held = heapAfterGc();
  if (made === undefined) throw new Error('nothing made');
  made = undefined;
  return held - heapAfterGc();
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export function runImpactBench(): string {
  setFlagsFromString('--expose-gc');
  // Bytecode flushed between collections would count as memory freed by what is measured.
  setFlagsFromString('--no-flush-bytecode');
  gc = runInNewContext('gc') as () => void;
  const live = new LiveCatalog({ base: [] });
  live.upsert(proxy('registry.example/proxy:1'));
  live.flush();
  // The JSON text first, then parsed as the watch parses it. Each size is what goes when it is
  // dropped, so the engine's and V8's own housekeeping in between is not counted.
  const lines = podsMetadata(live);
  const rawBytes = sizeOf(() => lines.map((line) => JSON.parse(line) as V1ObjectMeta));
  const index = new InjectedPodIndex();
  const indexBytes = sizeOf(() => {
    const fresh = new InjectedPodIndex();
    for (const line of lines) fresh.upsert(JSON.parse(line) as V1ObjectMeta);
    return fresh;
  });
  for (const line of lines) index.upsert(JSON.parse(line) as V1ObjectMeta);
  const counts = index.counts();
  const usages = index.usages('edge-proxy');

  const next = validateTemplate(templateOfObject(proxy('registry.example/proxy:2')), 'cluster', 'edge-proxy');
  if (!next.ok) throw new Error('the bench template is invalid');
  const run = () =>
    checkImpact({
      usages,
      before: live.current(),
      after: live.preview('edge-proxy', next.template),
      inject,
      options: (namespace) => ({ nativeSidecars: 'auto', namespace }),
      maxOwners: Number.MAX_SAFE_INTEGER,
    });
  run(); // warm up
  const rounds: number[] = [];
  let changing = 0;
  for (let i = 0; i < 5; i += 1) {
    const started = process.hrtime.bigint();
    changing = run().changing.length;
    rounds.push(Number(process.hrtime.bigint() - started) / 1e6 / usages.length);
  }
  rounds.sort((a, b) => a - b);
  return [
    `impact: ${counts.pods} injected pods in ${usages.length} owner groups`,
    `  index heap: ${(indexBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(indexBytes / counts.pods)} B a pod); the same metadata cached whole: ${(rawBytes / 2 ** 20).toFixed(1)} MiB (${Math.round(rawBytes / PODS)} B a pod)`,
    `  check, an image change (${changing} of ${usages.length} changing): ${rounds[2]!.toFixed(3)} ms per owner (median of 5 rounds; ${rounds[0]!.toFixed(3)} to ${rounds[4]!.toFixed(3)})`,
  ].join('\n');
}

if (process.argv[1]?.endsWith('impact.js') === true) process.stdout.write(`${runImpactBench()}\n`);
