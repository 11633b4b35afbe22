// The template revisions a replica may serve (the ControllerRevisions revisions.ts keeps), by
// template: which content hashes are promoted (podpattern.dev/promoted) and the promoted revision
// itself, the highest-numbered promoted one, as a template. A ControllerRevision is writable by
// whoever has RBAC on them in podpattern's namespace, so the promoted revision is validated as a
// template is before it is served, and its content must hash to the hash it is named for. It is
// validated once, when it becomes the promoted revision (or changes), never per pod. Bounded:
// past maxRevisions it keeps no more and counts what it left out.
import type { V1ControllerRevision } from '#kube';
import { validateTemplate } from '../catalog/validate.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND, type Template } from '../model/template.js';
import { MAX_REVISIONS, revisionName } from './revisions.js';
import { revisionOf } from './revisions-kube.js';

/** The promoted revision of a template, and whether it can be served. */
export interface PromotedRevision {
  name: string;
  hash: string;
  revision: number;
  /** The revision as a template, when it passed validation. */
  template?: Template;
  /** Why it cannot be served, when it cannot. */
  problem?: string;
}

export interface TemplateRevisions {
  /** The template's revisions known here. */
  count: number;
  /** The content hashes of its revisions labelled promoted. */
  promoted: ReadonlySet<string>;
  /** Its highest-numbered promoted revision. */
  latest?: PromotedRevision;
}

/** What the staging of templates (staged.ts) reads. */
export interface RevisionsView {
  /** A template's revisions; undefined while they are not known (not listed yet). */
  of(template: string): TemplateRevisions | undefined;
}

/**
 * Revisions kept at most (default): 200 templates at the MAX_REVISIONS podpattern keeps of each.
 * What is kept of one is its name, numbers and a reference to its spec, which the informer's
 * cache holds anyway; only the promoted revision of each template is compiled.
 */
export const MAX_SERVED_REVISIONS = 200 * MAX_REVISIONS;

interface Entry {
  name: string;
  template: string;
  hash: string;
  revision: number;
  promoted: boolean;
  /** data.spec as the object holds it: a changed object (a new one from the watch) is validated again. */
  spec: unknown;
}

const NONE: TemplateRevisions = Object.freeze({ count: 0, promoted: new Set<string>() });

export class ServedRevisions implements RevisionsView {
  /** Set once the revisions have been listed: until then `of` knows nothing. */
  listed = false;
  private readonly byTemplate = new Map<string, Map<string, Entry>>();
  private readonly views = new Map<string, TemplateRevisions>();
  /** By template, the promoted revision last validated, so an unchanged one is not validated again. */
  private readonly checked = new Map<string, { name: string; spec: unknown; revision: PromotedRevision }>();
  private size = 0;
  private readonly left = new Set<string>();
  private readonly maxRevisions: number;

  constructor(options: { maxRevisions?: number } = {}) {
    this.maxRevisions = options.maxRevisions ?? MAX_SERVED_REVISIONS;
  }

  /** Revisions kept, and those left out because the index was full. */
  counts(): { revisions: number; leftOut: number } {
    return { revisions: this.size, leftOut: this.left.size };
  }

  of(template: string): TemplateRevisions | undefined {
    if (!this.listed) return undefined;
    return this.views.get(template) ?? NONE;
  }

  /** A ControllerRevision added or changed. One that names no PatternTemplate owner is not a template revision. */
  put(object: V1ControllerRevision): void {
    const read = revisionOf(object);
    if (read.template === '' || read.name === '') return;
    let named = this.byTemplate.get(read.template);
    if (named?.has(read.name) !== true) {
      if (this.size >= this.maxRevisions) {
        this.left.add(read.name);
        return;
      }
      if (named === undefined) this.byTemplate.set(read.template, (named = new Map<string, Entry>()));
      this.size += 1;
    }
    named.set(read.name, {
      name: read.name,
      template: read.template,
      hash: read.hash,
      revision: read.revision,
      promoted: read.promoted,
      spec: read.spec,
    });
    this.refresh(read.template);
  }

  remove(object: V1ControllerRevision): void {
    const read = revisionOf(object);
    this.left.delete(read.name);
    const named = this.byTemplate.get(read.template);
    if (named?.delete(read.name) !== true) return;
    this.size -= 1;
    if (named.size === 0) this.byTemplate.delete(read.template);
    this.refresh(read.template);
  }

  private refresh(template: string): void {
    const entries = [...(this.byTemplate.get(template)?.values() ?? [])];
    const promoted = entries.filter((e) => e.promoted && Number.isSafeInteger(e.revision));
    const top = promoted.reduce<Entry | undefined>((best, e) => (best === undefined || e.revision > best.revision ? e : best), undefined);
    if (top === undefined) this.checked.delete(template);
    else {
      const before = this.checked.get(template);
      const revision =
        before !== undefined && before.name === top.name && before.spec === top.spec && top.spec !== undefined
          ? before.revision
          : servable(top);
      this.checked.set(template, { name: top.name, spec: top.spec, revision });
    }
    if (entries.length === 0) this.views.delete(template);
    else
      this.views.set(template, {
        count: entries.length,
        promoted: new Set(promoted.map((e) => e.hash)),
        ...(top === undefined ? {} : { latest: this.checked.get(template)!.revision }),
      });
  }
}

/** The revision as a template, or why it cannot be served: the template format's validation, then its hash against its name. */
export function servable(entry: Pick<Entry, 'name' | 'template' | 'hash' | 'revision' | 'spec'>): PromotedRevision {
  const base = { name: entry.name, hash: entry.hash, revision: entry.revision };
  const expected = revisionName(entry.template, entry.hash);
  if (entry.name !== expected)
    return { ...base, problem: `ControllerRevision ${entry.name} is not named ${expected}, as the hash it records would make it` };
  const verdict = validateTemplate(
    { apiVersion: TEMPLATE_API_VERSION, kind: TEMPLATE_KIND, metadata: { name: entry.template }, spec: entry.spec },
    'cluster',
    entry.template,
  );
  if (!verdict.ok)
    return {
      ...base,
      problem: `ControllerRevision ${entry.name} is not a valid template: ${verdict.problems.slice(0, 3).join('; ').slice(0, 500)}`,
    };
  if (verdict.template.hash !== entry.hash)
    return {
      ...base,
      problem: `ControllerRevision ${entry.name} holds a spec whose content hash is ${verdict.template.hash}, not ${entry.hash}`,
    };
  return { ...base, template: verdict.template };
}
