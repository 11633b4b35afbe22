// Runs the engine on the pod template of each manifest: the offline counterpart of the
// webhook, shared by `inject` and `explain`. Documents keep their shape: a `kind: List` stays
// a List, with its items injected.
import type { V1ObjectMeta } from '#kube';
import type { Catalog } from '../model/template.js';
import type { InjectOptions } from '../engine/index.js';
import { injectManifest, type ManifestResult } from '../engine/manifest.js';
import { findPodTemplate } from '../engine/pod-template.js';
import { readDocuments, writeDocument } from './yaml.js';
import { declaredNamespaces, viewFor } from './namespaces.js';
import { NAMESPACE_NAME_LABEL } from '../engine/availability.js';

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
    const result = injectManifest(object, catalog, {
      ...options,
      namespaceAnnotations: view.annotations ?? namespace.annotations,
      namespaceLabels,
    });
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
