// Every accepted spec of a cluster PatternTemplate, kept as a ControllerRevision owned by the
// template (how StatefulSets and DaemonSets keep their history: the API server deletes them
// with their owner). Named `<template>-<hash>`, the content hash pods record in
// podpattern.dev/status, so the spec a running pod was injected from can be read back; the last
// MAX_REVISIONS are kept. Every replica writes: an AlreadyExists or a NotFound from another one
// doing the same is no failure.
import type { Logger } from 'pino';
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import { POLICY_TEMPLATE_HASH_KEY, POLICY_TEMPLATE_LABEL } from '../model/keys.js';
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
}

/** `<template>-<hash>`: a ControllerRevision name is a DNS subdomain of at most 253 characters. */
export function revisionName(template: string, hash: string): string {
  return `${template.slice(0, 253 - hash.length - 1)}-${hash}`;
}

export function revisionObject(template: Template, owner: { uid: string }, namespace: string, revision: number): RevisionObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(template.name, template.hash),
      namespace,
      // A label value is at most 63 characters, a template name up to 253: the owner reference is what counts.
      labels: { [MANAGED_BY]: 'podpattern', ...(template.name.length <= 63 ? { [REVISION_TEMPLATE_LABEL]: template.name } : {}) },
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
  /** Template name -> the hash last recorded (status writes and resyncs arrive as updates too). */
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
    if (!verdict.ok || this.recorded.get(meta.name) === verdict.template.hash) return Promise.resolve();
    const name = meta.name;
    const uid = meta.uid;
    const next = (this.chains.get(name) ?? Promise.resolve()).then(() => this.record(verdict.template, uid));
    this.chains.set(name, next);
    return next;
  }

  private async record(template: Template, uid: string): Promise<void> {
    try {
      const existing = await this.store.list(template.name);
      if (!existing.some((r) => r.hash === template.hash)) {
        const revision = Math.max(0, ...existing.map((r) => r.revision)) + 1;
        await this.store.create(revisionObject(template, { uid }, this.store.namespace, revision));
        existing.push({
          name: revisionName(template.name, template.hash),
          template: template.name,
          hash: template.hash,
          revision,
          created: undefined,
          spec: template.spec,
        });
      }
      const stale = existing.sort((a, b) => b.revision - a.revision).slice(MAX_REVISIONS);
      for (const old of stale) await this.store.remove(old.name);
      this.recorded.set(template.name, template.hash);
    } catch (error) {
      this.logger.warn(
        { template: template.name, err: error instanceof Error ? error.message : String(error) },
        'could not keep the template revision',
      );
    }
  }
}
