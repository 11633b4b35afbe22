// Runs the engine on the pod template of each manifest: the offline counterpart of the
// webhook, shared by `inject` and `explain`. Documents keep their shape: a `kind: List` stays
// a List, with its items injected.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Catalog } from '../model/template.js';
import { inject, type InjectOptions, type InjectionResult, type PodLike } from '../engine/index.js';
import { PATTERN_KEYS, INJECT_KEY, parseTemplateKey } from '../model/keys.js';
import { findPodTemplate, replacePodTemplate, type PodTemplateSite } from './pod-template.js';
import { readDocuments, writeDocument } from './yaml.js';
import { declaredNamespaces, viewFor } from './namespaces.js';
import { NAMESPACE_NAME_LABEL } from '../engine/availability.js';

export interface ManifestResult {
  /** `Kind/name` of the manifest, for messages. */
  label: string;
  /** The manifest with its pod template mutated, or as it came when nothing applies. */
  object: unknown;
  /** Where the pod template is, when there is one. */
  site?: PodTemplateSite;
  /** The engine options the pod template was injected with (namespace, its annotations…). */
  options?: InjectOptions;
  result?: InjectionResult;
  /** A shape that cannot be injected, named: fails the run like a denial. */
  refusal?: string;
  warnings: string[];
}

/** A document of the input: one object, or a List whose items are the objects. */
export type Documents = unknown[];

/** Parses multi-document YAML (or JSON); empty documents are dropped. */
export function parseDocuments(text: string): Documents {
  return readDocuments(text);
}

/** The objects of the documents, List items in their place. */
export function objectsOf(documents: Documents): unknown[] {
  return documents.flatMap((document) => (isList(document) ? document.items : [document]));
}

function isList(object: unknown): object is { kind: string; items: unknown[] } {
  const o = object as { kind?: unknown; items?: unknown } | null;
  return typeof o?.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items);
}

/** The documents again, with each object replaced by its result's object, in order. */
export function withResults(documents: Documents, results: ManifestResult[]): Documents {
  let next = 0;
  return documents.map((document) => {
    if (!isList(document)) return results[next++]?.object;
    return { ...document, items: document.items.map(() => results[next++]?.object) };
  });
}

/**
 * Injects each object of the documents: what `inject` and `explain` run. A Namespace in the
 * documents gives the annotations and labels of its namespace, as the cluster would apply them.
 */
export function injectDocuments(documents: Documents, catalog: Catalog, options: InjectOptions): ManifestResult[] {
  const objects = objectsOf(documents);
  const namespaces = declaredNamespaces(objects);
  return objects.map((object) => {
    const namespace = namespaces.get(namespaceOf(object) ?? options.namespace ?? '');
    if (namespace === undefined) return injectManifest(object, catalog, options);
    const found = findPodTemplate(object);
    const annotations = 'found' in found ? ((found.template['metadata'] as V1ObjectMeta | undefined)?.annotations ?? {}) : {};
    const view = viewFor(namespace, annotations);
    // Its labels too, for templates' availability; the API server gives every namespace its name as a label.
    const namespaceLabels = { [NAMESPACE_NAME_LABEL]: namespace.name, ...namespace.labels };
    const result = injectManifest(object, catalog, { ...options, namespaceAnnotations: view.annotations ?? namespace.annotations, namespaceLabels });
    if (view.warning !== undefined && result.site !== undefined) result.warnings.unshift(`${result.label}: ${view.warning}`);
    return result;
  });
}

function namespaceOf(object: unknown): string | undefined {
  const namespace = (object as { metadata?: { namespace?: unknown } } | null)?.metadata?.namespace;
  return typeof namespace === 'string' ? namespace : undefined;
}

/** Parses text and injects each object, as the CLI does: what the golden tests run. */
export function injectText(text: string, catalog: Catalog, options: InjectOptions): { documents: Documents; results: ManifestResult[] } {
  const documents = parseDocuments(text);
  return { documents, results: injectDocuments(documents, catalog, options) };
}

export function labelOf(object: unknown): string {
  const o = object as { kind?: unknown; metadata?: V1ObjectMeta } | null;
  return `${typeof o?.kind === 'string' ? o.kind : '(no kind)'}/${o?.metadata?.name ?? o?.metadata?.generateName ?? '(no name)'}`;
}

export function injectManifest(object: unknown, catalog: Catalog, options: InjectOptions): ManifestResult {
  const manifest = structuredClone(object) as { kind?: string; metadata?: V1ObjectMeta } & Record<string, unknown>;
  const label = labelOf(manifest);
  const found = findPodTemplate(manifest);
  if ('none' in found) return { label, object: manifest, warnings: [] };
  if ('refused' in found) return { label, object: manifest, refusal: found.refused, warnings: [] };
  const { found: site, template } = found;
  const pod = asStoredAnnotations(template);
  const warnings = misplacedAnnotations(manifest, site.path).map((key) => `${label}: ${misplacedMessage(key, site.path)}`);
  const namespace = manifest.metadata?.namespace ?? options.namespace;
  const used: InjectOptions = {
    ...options,
    ...(namespace ? { namespace } : {}),
    podNameHint: `${manifest.metadata?.name ?? 'pod'}-`,
    ...(site.runsToCompletion ? { runsToCompletion: true } : {}),
    ...(site.controllerVolumes.length > 0 ? { controllerVolumes: site.controllerVolumes } : {}),
  };
  const result = inject(pod, catalog, used);
  warnings.push(...result.warnings.map((w) => `${label}: ${w}`));
  if (result.outcome === 'injected') replacePodTemplate(manifest, site.path, result.pod);
  return { label, object: manifest, site, options: used, result, warnings };
}

/**
 * An annotation written `key:` with no value is null in YAML; the API server stores it as ""
 * (a JSON null leaves a Go string empty), so the engine sees what the cluster would.
 */
export function asStoredAnnotations(pod: PodLike): PodLike {
  const annotations = pod.metadata?.annotations as Record<string, unknown> | undefined;
  if (annotations === undefined || annotations === null) return pod;
  for (const [key, value] of Object.entries(annotations)) if (value === null) annotations[key] = '';
  return pod;
}

/**
 * Podpattern annotations on a workload's own metadata, where podpattern never looks (it sees
 * only the pods the workload's controller creates from its pod template at `path`): the keys.
 */
export function misplacedAnnotations(manifest: { metadata?: { annotations?: unknown } }, path: readonly string[]): string[] {
  const annotations = manifest.metadata?.annotations;
  if (path.length === 0 || annotations === null || typeof annotations !== 'object') return [];
  const ours = new Set<string>([...Object.values(PATTERN_KEYS), INJECT_KEY]);
  return Object.keys(annotations).filter((key) => ours.has(key) || parseTemplateKey(key) !== undefined);
}

/** Why a misplaced key does nothing, and where it belongs (`path`: the pod template's). */
export function misplacedMessage(key: string, path: readonly string[]): string {
  return `annotation ${key} is on the workload's own metadata, where podpattern does not look; move it to ${[...path, 'metadata', 'annotations'].join('.')}`;
}

/**
 * YAML: the documents as they came (a List stays a List), each written to mean the same to
 * kubectl as the input did. JSON: one document as it is, several wrapped in one List.
 */
export function formatDocuments(documents: Documents, output: 'yaml' | 'json'): string {
  if (output === 'json') {
    const single = documents.length === 1 ? documents[0] : { apiVersion: 'v1', kind: 'List', items: objectsOf(documents) };
    return `${JSON.stringify(single, null, 2)}\n`;
  }
  return documents.map(writeDocument).join('---\n');
}
