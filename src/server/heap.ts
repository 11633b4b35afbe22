// The V8 heap for the container's memory limit.
//
// V8 sizes its old generation from the machine's memory, not the container's: on a large node
// a 256 MiB container got a heap limit of about 4 GiB, so V8 collected lazily and the process
// grew towards the kubelet's OOM kill under load. The heap limit can only be set when Node
// starts, so the chart passes --max-old-space-size in NODE_OPTIONS, computed from the same
// limit with the same share; at start `serve` reads the cgroup's limit and warns when the heap
// it was given would not fit.
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const MiB = 1024 * 1024;
/**
 * Share of the memory limit for V8's old generation (docs/install.md has the peaks measured with
 * 37.5 % and with this). The rest is the young generation, code,
 * Node and OpenSSL outside the heap (about 45 MB), and buffers of requests in flight.
 */
export const HEAP_SHARE = 0.29;

/** --max-old-space-size (MiB) for a container memory limit (bytes). */
export function heapMiBFor(limitBytes: number): number {
  return Math.floor((limitBytes * HEAP_SHARE) / MiB);
}

/** The container's memory limit in bytes (cgroup v2, then v1); undefined when there is none. */
export function containerMemoryLimit(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): number | undefined {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    // cgroup v2 says "max"; v1 says a number near 2^63 when unlimited.
    if (text === 'max' || !Number.isSafeInteger(bytes) || bytes <= 0) return undefined;
    return bytes;
  }
  return undefined;
}

export interface HeapCheck {
  limitBytes: number;
  heapLimitMiB: number;
  suggestedMiB: number;
  fits: boolean;
}

/** How the V8 heap limit compares with the container's memory limit; undefined outside a limited container. */
export function checkHeap(limitBytes = containerMemoryLimit()): HeapCheck | undefined {
  if (limitBytes === undefined) return undefined;
  const heapLimitMiB = Math.round(getHeapStatistics().heap_size_limit / MiB);
  const suggestedMiB = heapMiBFor(limitBytes);
  // heap_size_limit includes the young generation: allow for it beside the old generation.
  return { limitBytes, heapLimitMiB, suggestedMiB, fits: heapLimitMiB <= suggestedMiB + 32 };
}
