// Giving the C heap's free pages back to the system, every second by default.
//
// V8's optimizing compilers run on worker threads and take their working memory from malloc a
// few KiB at a time (V8's src/zone/zone.h); when a compile ends it is freed into glibc's arena,
// and glibc gives back only the top of the heap on free(3). So after a burst of reviews, 20 to
// 30 MB of serve's resident memory is free memory glibc keeps amid live chunks. malloc_trim(3)
// (since glibc 2.8) gives every whole free page of every arena back, by madvise; it is called
// here through a small Node-API addon (src/server/malloc-trim.c) that the build makes where a C
// compiler is found, and the image always carries. Measured in bench/RESULTS.md ("Giving the C
// heap back"): serve's glibc heap after the bench's rows 33 MB without it, 10 MB with it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Trimmer {
  /** malloc_trim(0): true when memory was given back. */
  trim(): boolean;
}

export type TrimLoad = { trimmer: Trimmer; path: string } | { unavailable: string };

const ADDON = 'malloc-trim.node';

/**
 * The addon beside this module (dist/src/server/, where the build puts it), or, when this
 * module runs from src/ in a checkout, the one the build put in dist/.
 */
export function loadMallocTrim(dir = dirname(fileURLToPath(import.meta.url))): TrimLoad {
  const candidates = [join(dir, ADDON), join(dir, '..', '..', 'dist', 'src', 'server', ADDON)];
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) return { unavailable: `${ADDON} was not built (the build found no C compiler or no Node-API headers)` };
  try {
    const loaded = createRequire(import.meta.url)(path) as Partial<Trimmer>;
    if (typeof loaded.trim !== 'function') return { unavailable: `${path} has no trim function` };
    const trim = loaded.trim;
    return { trimmer: { trim: () => trim() === true }, path };
  } catch (error) {
    return { unavailable: `${path} did not load: ${(error as Error).message}` };
  }
}

export interface MemoryTrimOptions {
  trimmer: Trimmer;
  everyMs: number;
  /** After each trim: whether memory was given back. */
  onTrim?: (released: boolean) => void;
}

/**
 * Trims every `everyMs` while started. A trim walks the one arena (the chart sets
 * MALLOC_ARENA_MAX=1) and holds its lock meanwhile: 0.3 to 3 ms on the main thread under load
 * (bench/RESULTS.md), so once a second it costs at most 0.3 % of a core, and what it gives back
 * that is needed again the kernel faults back in. The timer keeps no process alive.
 */
export class MemoryTrim {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MemoryTrimOptions) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.trim(), this.options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private trim(): void {
    this.options.onTrim?.(this.options.trimmer.trim());
  }
}
