// The V8 heap follows the container's memory limit: the chart and the plain manifests pass the
// share src/server/heap.ts computes, and serve reads the cgroup's limit to check it.
import t from 'tap';
import { join } from 'node:path';
import type { V1Deployment } from '#kube';
import { checkHeap, containerMemoryLimit, heapMiBFor } from '../../src/server/heap.js';
import { find, readManifests, renderChart, webhookConfigDir } from '../install/helpers.js';
import { quantityBytes } from '../helpers/chart-heap.js';

const MiB = 1024 * 1024;
/** The value the Deployment's first container sets for `name`; a render without a pod spec throws. */
const envOf = (deployment: V1Deployment, name: string) =>
  deployment.spec!.template.spec!.containers[0]!.env?.find((e) => e.name === name)?.value;
const nodeOptions = (deployment: V1Deployment) => envOf(deployment, 'NODE_OPTIONS');

t.test('the chart passes the heap for its memory limit, whatever the unit', async (t) => {
  t.equal(heapMiBFor(256 * MiB), 74);
  for (const [limit, bytes] of [
    ['256Mi', 256 * MiB],
    ['1Gi', 1024 * MiB],
    ['500M', 500e6],
    ['300000Ki', 300000 * 1024],
  ] as const) {
    const deployment = find(renderChart([`resources.limits.memory=${limit}`]).objects, 'Deployment');
    t.equal(nodeOptions(deployment), `--max-old-space-size=${heapMiBFor(bytes)}`, limit);
  }
  t.equal(nodeOptions(find(renderChart().objects, 'Deployment')), '--max-old-space-size=111', 'the default 384Mi limit');
  t.equal(nodeOptions(find(renderChart(['resources.limits=null']).objects, 'Deployment')), undefined, 'no limit, no flag');
  const plain = find(readManifests(join(webhookConfigDir, 'deployment.yaml')), 'Deployment');
  const plainLimit = plain.spec.template.spec.containers[0].resources.limits.memory as string;
  t.equal(
    plainLimit,
    find(renderChart().objects, 'Deployment').spec.template.spec.containers[0].resources.limits.memory,
    "webhook-config has the chart's limit",
  );
  t.equal(
    nodeOptions(plain),
    `--max-old-space-size=${heapMiBFor(quantityBytes(plainLimit))}`,
    `webhook-config matches its own ${plainLimit} limit`,
  );
});

t.test('the container limit is read from cgroup v2, then v1', async (t) => {
  const files = (map: Record<string, string>) => (path: string) => {
    if (map[path] === undefined) throw new Error('ENOENT');
    return map[path];
  };
  t.equal(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '268435456\n' })), 268435456);
  t.equal(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' })), undefined, 'v2 without a limit');
  t.equal(containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '134217728' })), 134217728, 'v1');
  t.equal(
    containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' })),
    undefined,
    'v1 without a limit',
  );
  t.equal(containerMemoryLimit(files({})), undefined, 'no cgroup files');
  const check = checkHeap(256 * MiB);
  t.match(check, { suggestedMiB: 74, heapLimitMiB: Number });
  t.equal(check?.fits, (check?.heapLimitMiB ?? 0) <= 74 + 32, 'fits means the heap limit is near the share');
});

t.test('the chart and the plain manifests set the same malloc arenas and mmap threshold', async (t) => {
  for (const [name, value] of [
    ['MALLOC_ARENA_MAX', '1'],
    ['MALLOC_MMAP_THRESHOLD_', '131072'],
  ]) {
    t.equal(envOf(find(renderChart().objects, 'Deployment'), name as string), value);
    t.equal(envOf(find(readManifests(join(webhookConfigDir, 'deployment.yaml')), 'Deployment'), name as string), value);
  }
});
