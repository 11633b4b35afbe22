// Finds the pod templates inside Kubernetes manifests and runs the engine on each: the
// offline counterpart of the webhook (SPEC §7), shared by `inject` and `explain`.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import type { Catalog } from '../catalog/types.js';
import { inject, type InjectOptions, type InjectionResult, type PodLike } from '../engine/index.js';
import { PATTERN_KEYS, INJECT_KEY, parseTemplateKey } from '../engine/keys.js';

/** Where each kind keeps its pod template (SPEC §7). */
const POD_TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface ManifestResult {
  /** `Kind/name` of the manifest, for messages. */
  label: string;
  /** The manifest with its pod template mutated, or as it came when nothing applies. */
  object: unknown;
  result?: InjectionResult;
  warnings: string[];
}

export class ManifestError extends Error {}

/** Parses multi-document YAML (or JSON) into plain values; empty documents are dropped. */
export function parseManifests(text: string): unknown[] {
  const objects: unknown[] = [];
  for (const [index, document] of parseAllDocuments(text, { schema: 'core' }).entries()) {
    if (document.errors.length > 0) throw new ManifestError(`document ${index + 1}: ${document.errors[0]?.message.split('\n')[0]}`);
    const object: unknown = document.toJS({ maxAliasCount: 100 });
    if (object === null || object === undefined) continue;
    if (isList(object)) objects.push(...object.items);
    else objects.push(object);
  }
  return objects;
}

function isList(object: unknown): object is { items: unknown[] } {
  const o = object as { kind?: unknown; items?: unknown };
  return typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items);
}

export function injectManifest(object: unknown, catalog: Catalog, options: InjectOptions): ManifestResult {
  const manifest = structuredClone(object) as { kind?: string; metadata?: V1ObjectMeta };
  const label = `${manifest.kind ?? '(no kind)'}/${manifest.metadata?.name ?? manifest.metadata?.generateName ?? '(no name)'}`;
  const path = manifest.kind === undefined ? undefined : POD_TEMPLATE_PATHS[manifest.kind];
  if (path === undefined) return { label, object: manifest, warnings: [] };
  const template = path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], manifest) as PodLike | undefined;
  if (template === undefined || template === null || typeof template !== 'object') {
    return { label, object: manifest, warnings: [`${label}: has no pod template at ${path.join('.')}`] };
  }
  const warnings = path.length > 0 ? misplacedAnnotations(label, manifest.metadata?.annotations ?? {}) : [];
  const namespace = manifest.metadata?.namespace ?? options.namespace;
  const result = inject(template, catalog, { ...options, ...(namespace ? { namespace } : {}), podNameHint: `${manifest.metadata?.name ?? 'pod'}-` });
  warnings.push(...result.warnings.map((w) => `${label}: ${w}`));
  if (result.outcome === 'injected') replaceAt(manifest, path, result.pod);
  return { label, object: manifest, result, warnings };
}

/** SPEC §3: podpattern annotations on a workload's own metadata do nothing; say so. */
function misplacedAnnotations(label: string, annotations: Record<string, string>): string[] {
  const ours = new Set<string>([...Object.values(PATTERN_KEYS), INJECT_KEY]);
  return Object.keys(annotations)
    .filter((key) => ours.has(key) || parseTemplateKey(key) !== undefined)
    .map((key) => `${label}: annotation ${key} is on the workload's own metadata, where podpattern does not look; move it to spec.template.metadata.annotations`);
}

function replaceAt(root: object, path: string[], value: unknown): void {
  if (path.length === 0) {
    for (const key of Object.keys(root)) delete (root as Record<string, unknown>)[key];
    Object.assign(root, value);
    return;
  }
  const parent = path.slice(0, -1).reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, root as Record<string, unknown>);
  parent[path[path.length - 1] as string] = value;
}

export function formatManifests(objects: unknown[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify(objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`;
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
