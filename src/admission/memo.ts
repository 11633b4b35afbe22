// Remembers recent engine results. The engine is pure, so the same pod, options and catalog
// snapshot always give the same result; and the API server often sends the same pod many times
// over: every replica of a ReplicaSet arrives as the same object (generateName, no name), and
// a scale-up or rollout sends it once per pod. A new catalog snapshot is a new object, so a
// catalog change can never be answered from an old entry.
import type { Catalog } from '../model/template.js';
import type { InjectOptions, InjectionResult, PodLike } from '../engine/types.js';
import type { InjectFunction } from './review.js';

export interface MemoOptions {
  /** Most results kept per catalog snapshot (least recently used go first). Default 256. */
  maxEntries?: number;
  /** Pods (with options) whose JSON is longer than this are not remembered: bounds memory to about maxEntries x a few times this. Default 16 KiB. */
  maxPodBytes?: number;
}

/** Wraps `inject` with a bounded LRU of results. Results are shared: callers must not mutate them. */
export function memoizeInject(inject: InjectFunction, options: MemoOptions = {}): InjectFunction {
  const maxEntries = options.maxEntries ?? 256;
  const maxPodBytes = options.maxPodBytes ?? 16 * 1024;
  const byCatalog = new WeakMap<Catalog, Map<string, InjectionResult>>();

  return (pod: PodLike, catalog: Catalog, injectOptions: InjectOptions): InjectionResult => {
    // Sized by a walk that stops at the limit first: a 3 MiB pod is not serialized only to be refused.
    if (exceeds(pod, maxPodBytes)) return inject(pod, catalog, injectOptions);
    const key = JSON.stringify([injectOptions, pod]);
    if (key.length > maxPodBytes) return inject(pod, catalog, injectOptions);
    let entries = byCatalog.get(catalog);
    if (entries === undefined) {
      entries = new Map();
      byCatalog.set(catalog, entries);
    }
    const hit = entries.get(key);
    if (hit !== undefined) {
      entries.delete(key); // move to the most recent end
      entries.set(key, hit);
      return hit;
    }
    const result = inject(pod, catalog, injectOptions);
    entries.set(key, result);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    return result;
  };
}

/** Whether the strings and keys in `value` add up to more than `budget` characters; stops as soon as they do. */
function exceeds(value: unknown, budget: number): boolean {
  let left = budget;
  const walk = (item: unknown): boolean => {
    if (typeof item === 'string') return (left -= item.length + 2) < 0;
    if (typeof item !== 'object' || item === null) return (left -= 8) < 0;
    if (Array.isArray(item)) return item.some(walk);
    for (const key in item) {
      if ((left -= key.length + 4) < 0 || walk((item as Record<string, unknown>)[key])) return true;
    }
    return false;
  };
  return walk(value);
}
