// The live catalog: built-in and --catalog-dir templates, plus PatternTemplate
// objects from the cluster. Each change is validated once when it arrives; rebuilds are
// debounced and the whole catalog is swapped in at once. A cluster template that turns invalid
// is reported and its last good version stays in force; precedence by name is
// built-in < --catalog-dir < cluster.
import { buildCatalog, type ParsedTemplates } from './index.js';
import { validateTemplate } from './validate.js';
import type { Catalog, Template, TemplateFailure } from '../model/template.js';

/** What a source of objects reports about one template after validating it. */
export interface TemplateVerdict {
  name: string;
  valid: boolean;
  problems: string[];
}

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LiveCatalogOptions {
  /** Templates that never change while running: built-in, then --catalog-dir. */
  base: ParsedTemplates[];
  debounceMs?: number;
  timers?: Timers;
  /** Called after each swap with the new snapshot. */
  onSwap?: (catalog: Catalog) => void;
}

const realTimers: Timers = { set: (callback, ms) => setTimeout(callback, ms), clear: (handle) => clearTimeout(handle as NodeJS.Timeout) };

export class LiveCatalog {
  private snapshot: Catalog;
  private readonly newest = new Map<string, Entry>();
  private readonly lastGood = new Map<string, Template>();
  private pending: unknown;
  private readonly timers: Timers;
  private readonly debounceMs: number;

  constructor(private readonly options: LiveCatalogOptions) {
    this.timers = options.timers ?? realTimers;
    this.debounceMs = options.debounceMs ?? 250;
    this.snapshot = buildCatalog(options.base);
  }

  /** The catalog in force: an immutable snapshot, safe to hold for a whole review. */
  current(): Catalog {
    return this.snapshot;
  }

  /**
   * A PatternTemplate object was added or changed in the cluster. Returns the verdict, so the
   * caller can act on it (status condition, log, metric); undefined for an object with no name.
   */
  upsert(object: unknown): TemplateVerdict | undefined {
    const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    if (typeof name !== 'string' || name === '') return undefined;
    const verdict = validateTemplate(templateOfObject(object), 'cluster', name);
    const entry: Entry = verdict.ok ? { template: verdict.template } : { failure: { name, source: 'cluster', problems: verdict.problems } };
    // Status writes (our own Ready condition) and resyncs arrive as updates too: a template the
    // same as before is no change, and needs no new snapshot.
    if (!sameEntry(this.newest.get(name), entry)) {
      this.newest.set(name, entry);
      if (verdict.ok) this.lastGood.set(name, verdict.template);
      this.schedule();
    }
    return { name, valid: verdict.ok, problems: verdict.ok ? [] : verdict.problems };
  }

  /** A PatternTemplate object was deleted: its last good version goes with it. */
  remove(name: string): void {
    if (!this.newest.has(name)) return;
    this.newest.delete(name);
    this.lastGood.delete(name);
    this.schedule();
  }

  /**
   * The catalog as it would be with the cluster template `name` replaced by `template`, or
   * removed when `template` is undefined (a built-in or --catalog-dir template of that name then
   * serves again). The impact check renders workloads' next pods against it; nothing changes here.
   */
  preview(name: string, template: Template | undefined): Catalog {
    const cluster: ParsedTemplates = { templates: [], failures: [] };
    for (const [other, entry] of this.newest) {
      if (other === name) continue;
      const kept = entry.template ?? this.lastGood.get(other);
      if (kept !== undefined) cluster.templates.push(kept);
      if (entry.failure !== undefined) cluster.failures.push(entry.failure);
    }
    if (template !== undefined) cluster.templates.push(template);
    return buildCatalog([...this.options.base, cluster]);
  }

  /** Rebuilds immediately, cancelling a pending debounced rebuild. */
  flush(): void {
    if (this.pending !== undefined) this.timers.clear(this.pending);
    this.pending = undefined;
    this.rebuild();
  }

  private schedule(): void {
    if (this.pending !== undefined) this.timers.clear(this.pending);
    this.pending = this.timers.set(() => {
      this.pending = undefined;
      this.rebuild();
    }, this.debounceMs);
  }

  private rebuild(): void {
    const cluster: ParsedTemplates = { templates: [], failures: [] };
    for (const [name, entry] of this.newest) {
      const template = entry.template ?? this.lastGood.get(name);
      if (template !== undefined) cluster.templates.push(template);
      if (entry.failure !== undefined) cluster.failures.push(entry.failure);
    }
    this.snapshot = buildCatalog([...this.options.base, cluster]);
    this.options.onSwap?.(this.snapshot);
  }
}

type Entry = { template?: Template; failure?: TemplateFailure };

/** Whether two verdicts on one name are the same: the same valid content, or the same problems. */
function sameEntry(a: Entry | undefined, b: Entry): boolean {
  if (a === undefined) return false;
  if (a.template !== undefined && b.template !== undefined) return a.template.hash === b.template.hash;
  if (a.failure !== undefined && b.failure !== undefined) return JSON.stringify(a.failure.problems) === JSON.stringify(b.failure.problems);
  return false;
}

/** A PatternTemplate object without what the API server adds (metadata, status) that the template format does not know. */
export function templateOfObject(object: unknown): unknown {
  const o = (object ?? {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; spec?: unknown };
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata?.name }, spec: o.spec };
}
