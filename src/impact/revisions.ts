// Every accepted spec of a cluster PatternTemplate, kept as a ControllerRevision owned by the
// template (how StatefulSets and DaemonSets keep their history: the API server deletes them
// with their owner). Named `<template>-<hash>`, the content hash pods record in
// podpattern.dev/status, so the spec a running pod was injected from can be read back; the last
// MAX_REVISIONS are kept, and the promoted one besides. A revision labelled
// podpattern.dev/promoted may be served outside a template's canary namespaces (staged.ts): a
// template without spec.rollout.canary has each new spec promoted as it is recorded, and so
// does a template none of whose revisions is promoted yet (its first spec, or revisions kept
// before promotion existed); with a canary, a later spec waits for `podpattern rollout promote`
// or the rollout controller. Every replica writes: an AlreadyExists or a NotFound from another
// one doing the same is no failure, and labelling a revision promoted twice is the same write.
import type { Logger } from 'pino';
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import { POLICY_TEMPLATE_HASH_KEY, POLICY_TEMPLATE_LABEL, PROMOTED_LABEL } from '../model/keys.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND, type Template, type TemplateSpec } from '../model/template.js';

export const MAX_REVISIONS = 10;
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
/** The label naming the template a revision belongs to, and the annotation holding its hash. */
export const REVISION_TEMPLATE_LABEL = POLICY_TEMPLATE_LABEL;
export const REVISION_HASH_KEY = POLICY_TEMPLATE_HASH_KEY;

export interface Revision {
  name: string;
  /** The template that owns it. */
  template: string;
  hash: string;
  revision: number;
  created: string | undefined;
  spec: TemplateSpec | undefined;
  /** Labelled podpattern.dev/promoted: served outside the template's canary namespaces. */
  promoted: boolean;
}

export interface RevisionObject {
  apiVersion: 'apps/v1';
  kind: 'ControllerRevision';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }>;
  };
  data: { spec: TemplateSpec };
  revision: number;
}

/** The ControllerRevisions of one namespace (revisions-kube.ts; a fake API server in tests). */
export interface RevisionStore {
  namespace: string;
  list(template: string): Promise<Revision[]>;
  /** Creates it; resolves false when one of that name exists already. */
  create(object: RevisionObject): Promise<boolean>;
  /** Deletes it; a revision already gone is no failure. */
  remove(name: string): Promise<void>;
  /** Labels it podpattern.dev/promoted=true; resolves false when there is no such revision. */
  promote(name: string): Promise<boolean>;
}

/** `<template>-<hash>`: a ControllerRevision name is a DNS subdomain of at most 253 characters. */
export function revisionName(template: string, hash: string): string {
  return `${template.slice(0, 253 - hash.length - 1)}-${hash}`;
}

export function revisionObject(
  template: Template,
  owner: { uid: string },
  namespace: string,
  revision: number,
  promoted = false,
): RevisionObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(template.name, template.hash),
      namespace,
      // A label value is at most 63 characters, a template name up to 253: the owner reference is what counts.
      labels: {
        [MANAGED_BY]: 'podpattern',
        ...(template.name.length <= 63 ? { [REVISION_TEMPLATE_LABEL]: template.name } : {}),
        ...(promoted ? { [PROMOTED_LABEL]: 'true' } : {}),
      },
      annotations: { [REVISION_HASH_KEY]: template.hash },
      ownerReferences: [
        {
          apiVersion: TEMPLATE_API_VERSION,
          kind: TEMPLATE_KIND,
          name: template.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
    },
    data: { spec: template.spec },
    revision,
  };
}

/** Keeps the revisions of the templates the watch reports: one write when a template's hash is new. */
export class RevisionRecorder {
  /** Template name -> the hash last recorded and whether it had a canary (status writes and resyncs arrive as updates too). */
  private readonly recorded = new Map<string, string>();
  /** One record at a time per template, in the order the watch saw them. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly store: RevisionStore,
    private readonly logger: Logger,
  ) {}

  /** A PatternTemplate object as the watch saw it; invalid ones keep no revision. */
  observe(object: unknown): Promise<void> {
    const meta = (object as { metadata?: { name?: unknown; uid?: unknown } } | null)?.metadata;
    if (typeof meta?.name !== 'string' || typeof meta.uid !== 'string') return Promise.resolve();
    let verdict: ReturnType<typeof validateTemplate>;
    try {
      verdict = validateTemplate(templateOfObject(object), 'cluster', meta.name);
    } catch (error) {
      // Called from inside the informer: nothing may escape into it.
      this.logger.warn(
        { template: meta.name, err: error instanceof Error ? error.message : String(error) },
        'could not keep the template revision',
      );
      return Promise.resolve();
    }
    if (!verdict.ok || this.recorded.get(meta.name) === recordKey(verdict.template)) return Promise.resolve();
    const name = meta.name;
    const uid = meta.uid;
    const next = (this.chains.get(name) ?? Promise.resolve()).then(() => this.record(verdict.template, uid));
    this.chains.set(name, next);
    return next;
  }

  private async record(template: Template, uid: string): Promise<void> {
    try {
      const existing = await this.store.list(template.name);
      // Without a canary every spec is served everywhere at once; with one, only the first (or,
      // when none is promoted, the one in force) is: the rest wait to be promoted.
      const promote = template.rollout?.canary === undefined || !existing.some((r) => r.promoted);
      const current = existing.find((r) => r.hash === template.hash);
      if (current === undefined) {
        const revision = Math.max(0, ...existing.map((r) => r.revision)) + 1;
        await this.store.create(revisionObject(template, { uid }, this.store.namespace, revision, promote));
        existing.push({
          name: revisionName(template.name, template.hash),
          template: template.name,
          hash: template.hash,
          revision,
          created: undefined,
          spec: template.spec,
          promoted: promote,
        });
      } else if (promote && !current.promoted) {
        await this.store.promote(current.name);
        current.promoted = true;
      }
      for (const old of staleRevisions(existing)) await this.store.remove(old.name);
      this.recorded.set(template.name, recordKey(template));
    } catch (error) {
      this.logger.warn(
        { template: template.name, err: error instanceof Error ? error.message : String(error) },
        'could not keep the template revision',
      );
    }
  }
}

/** What the recorder has done for a template: its hash, and whether a canary holds later specs back. */
function recordKey(template: Template): string {
  return `${template.hash} ${template.rollout?.canary === undefined ? 'direct' : 'canary'}`;
}

/** Past the newest MAX_REVISIONS, except the promoted revision (the highest-numbered promoted one), which pods outside a canary are served. */
export function staleRevisions(revisions: Revision[]): Revision[] {
  const newest = [...revisions].sort((a, b) => b.revision - a.revision);
  const promoted = newest.find((r) => r.promoted);
  return newest.slice(MAX_REVISIONS).filter((r) => r !== promoted);
}
