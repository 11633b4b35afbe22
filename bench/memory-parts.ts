// Where a `podpattern serve`'s resident memory is, read from outside the process (bench/server.ts
// prints it beside the resident memory it measures).
import { readFileSync, readlinkSync } from 'node:fs';

/** V8's heap page (MemoryChunk) size on 64-bit, the size of each anonymous mapping it allocates a page in. */
const V8_PAGE_BYTES = 256 * 1024;

/** Resident MiB by part; `heapCommitted` and `heapUsed` are V8's own figures, not pages. */
export interface MemoryParts {
  binary: number;
  v8Pages: number;
  heapCommitted: number;
  heapUsed: number;
  malloc: number;
  rest: number;
}

/**
 * Where a process's resident memory is, from /proc/<pid>/smaps and the heap figures on its
 * /metrics: the node binary's pages; V8's 256 KiB pages (every space of its heap but code and
 * large objects, and the freed pages V8 keeps pooled for reuse, so they can exceed the heap V8
 * reports committed); glibc's heap; and the rest. How much of V8's heap in use is garbage that
 * the next collection frees, no reading from outside can tell.
 */
export function memoryParts(pid: number, metrics: string): MemoryParts {
  const executable = readlinkSync(`/proc/${pid}/exe`);
  const kb = { binary: 0, v8Pages: 0, malloc: 0, all: 0 };
  let part: 'binary' | 'v8Pages' | 'malloc' | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+ *(.*)$/.exec(line);
    if (mapping !== null) {
      const [, start, end, path] = mapping as unknown as [string, string, string, string];
      const bytes = parseInt(end, 16) - parseInt(start, 16);
      part = path === executable ? 'binary' : path === '[heap]' ? 'malloc' : path === '' && bytes === V8_PAGE_BYTES ? 'v8Pages' : undefined;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)?.[1];
    if (rss === undefined) continue;
    kb.all += Number(rss);
    if (part !== undefined) kb[part] += Number(rss);
  }
  const heap = (name: string): number => Number(new RegExp(`^nodejs_heap_size_${name}_bytes (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20;
  return {
    binary: kb.binary / 1024,
    v8Pages: kb.v8Pages / 1024,
    heapCommitted: heap('total'),
    heapUsed: heap('used'),
    malloc: kb.malloc / 1024,
    rest: (kb.all - kb.binary - kb.v8Pages - kb.malloc) / 1024,
  };
}

export function describeMemoryParts(parts: MemoryParts): string {
  const mb = (n: number): string => n.toFixed(0);
  return (
    `the node binary's pages ${mb(parts.binary)} MB, V8's pages ${mb(parts.v8Pages)} (its heap ${mb(parts.heapCommitted)} committed, ` +
    `${mb(parts.heapUsed)} in use), glibc's heap ${mb(parts.malloc)}, the rest ${mb(parts.rest)}`
  );
}
