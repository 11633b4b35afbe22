// The index of injected pods: one small record per pod (pod-record.ts), fed by a metadata-only
// watch of pods labelled podpattern.dev/injected (pod-watch.ts), so it grows with injected pods,
// not with the cluster. Bounded: past maxPods it keeps no more and says it is incomplete, and a
// relist builds the new index beside the old one and swaps it in whole. Nothing waits for it:
// the impact check asks `synced` and says "not checked" when it is not.
import type { V1ObjectMeta } from '#kube';
import { AskedTable, recordOf, type OwnerRef, type PodRecord } from './pod-record.js';
import type { OwnerResolver } from './owners.js';

/** Pods that run a template, grouped by what makes their next pod the same: namespace, workload, asked annotations. */
export interface Usage {
  namespace: string;
  /** The Deployment, StatefulSet, DaemonSet, CronJob or Job (or the direct controller, or the bare Pod). */
  workload: OwnerRef;
  asked: Readonly<Record<string, string>>;
  pods: number;
  /** The template's hashes these pods run (one, unless the workload is part way through a roll). */
  hashes: string[];
}

export interface IndexCounts {
  pods: number;
  /** Pods seen and not kept because the index was full, since the last list. */
  overflow: number;
  /** Pods whose asked annotations were over MAX_ASKED_BYTES. */
  tooLarge: number;
}

export interface InjectedPodIndexOptions {
  resolver?: OwnerResolver;
  /** Pods kept at most (default 100,000: about 37 MB at the 366 bytes a pod bench/impact.ts measures). */
  maxPods?: number;
}

export class InjectedPodIndex {
  /** True while the watch has listed and is watching (pod-watch.ts sets it). */
  synced = false;
  private pods = new Map<string, PodRecord>();
  private table = new AskedTable();
  private overflow = 0;
  private tooLargeKeys = new Set<string>();
  private readonly maxPods: number;

  constructor(private readonly options: InjectedPodIndexOptions = {}) {
    this.maxPods = options.maxPods ?? 100_000;
  }

  counts(): IndexCounts {
    return { pods: this.pods.size, overflow: this.overflow, tooLarge: this.tooLargeKeys.size };
  }

  /** Whether every injected pod seen is kept. */
  get complete(): boolean {
    return this.overflow === 0 && this.tooLargeKeys.size === 0;
  }

  /** A list's pods replace the index at once (after a relist: pods deleted meanwhile go). */
  replace(items: Iterable<{ metadata?: V1ObjectMeta }>): void {
    const next = this.rebuild();
    for (const item of items) next.add(item.metadata);
    next.commit();
  }

  /**
   * A new index built page by page beside this one, swapped in whole by commit(): a list's pages
   * need not be held until the last arrives, and checks meanwhile see the old index.
   */
  rebuild(): { add(metadata: V1ObjectMeta | undefined): void; commit(): void } {
    const next = new InjectedPodIndex(this.options);
    return {
      add: (metadata) => next.upsert(metadata),
      commit: () => {
        this.pods = next.pods;
        this.table = next.table;
        this.overflow = next.overflow;
        this.tooLargeKeys = next.tooLargeKeys;
      },
    };
  }

  upsert(metadata: V1ObjectMeta | undefined): void {
    const key = keyOf(metadata);
    if (key === undefined) return;
    this.forget(key);
    const result = recordOf(metadata, this.table);
    if (!result.ok) {
      if (result.why === 'too-large') this.tooLargeKeys.add(key);
      return;
    }
    if (this.pods.size >= this.maxPods) {
      this.table.release(result.record.askedKey);
      // Counted, not remembered: a full index holds nothing more until the next list.
      this.overflow += 1;
      return;
    }
    this.pods.set(key, result.record);
    // Asked now, so its workload is known by the time a template change is checked.
    if (result.record.owner !== undefined) this.options.resolver?.workload(result.record.namespace, result.record.owner);
  }

  remove(metadata: V1ObjectMeta | undefined): void {
    const key = keyOf(metadata);
    if (key !== undefined) this.forget(key);
  }

  /** The groups of pods that run `template` (any hash), with how many pods each. */
  usages(template: string): Usage[] {
    const groups = new Map<string, Usage>();
    for (const record of this.pods.values()) {
      const runs = record.templates.find((t) => t.name === template);
      if (runs === undefined) continue;
      const workload = this.workloadOf(record);
      const key = `${record.namespace}\u0000${workload.kind}\u0000${workload.name}\u0000${record.askedKey}`;
      let usage = groups.get(key);
      if (usage === undefined) {
        usage = { namespace: record.namespace, workload, asked: record.asked, pods: 0, hashes: [] };
        groups.set(key, usage);
      }
      usage.pods += 1;
      if (!usage.hashes.includes(runs.hash)) usage.hashes.push(runs.hash);
    }
    return [...groups.values()];
  }

  /** The names of the pods of one of `usages(template)`'s groups. */
  podNames(template: string, usage: Usage): string[] {
    const names: string[] = [];
    for (const record of this.pods.values()) {
      if (record.namespace !== usage.namespace || record.asked !== usage.asked || !record.templates.some((t) => t.name === template))
        continue;
      const workload = this.workloadOf(record);
      if (workload.kind === usage.workload.kind && workload.name === usage.workload.name) names.push(record.name);
    }
    return names;
  }

  /** How many pods run each hash of `template`. */
  podsByHash(template: string): Map<string, number> {
    const counts = new Map<string, number>();
    for (const record of this.pods.values()) {
      const hash = record.templates.find((t) => t.name === template)?.hash;
      if (hash !== undefined) counts.set(hash, (counts.get(hash) ?? 0) + 1);
    }
    return counts;
  }

  private workloadOf(record: PodRecord): OwnerRef {
    if (record.owner === undefined) return { kind: 'Pod', name: record.name };
    return this.options.resolver?.workload(record.namespace, record.owner) ?? record.owner;
  }

  private forget(key: string): void {
    const old = this.pods.get(key);
    if (old !== undefined) {
      this.pods.delete(key);
      this.table.release(old.askedKey);
    }
    this.tooLargeKeys.delete(key);
  }
}

/**
 * `namespace/name`, as a string of its own. Joined from the metadata's strings and kept as a
 * map key, it held the pod's whole parsed metadata alive: 1,560 bytes a pod against 377 with a
 * copy, at 10,000 pods.
 */
function keyOf(metadata: V1ObjectMeta | undefined): string | undefined {
  if (typeof metadata?.namespace !== 'string' || typeof metadata.name !== 'string') return undefined;
  return Buffer.from(`${metadata.namespace}/${metadata.name}`, 'utf8').toString('utf8');
}
