// Catalog sources: parse + validate templates once, then build an immutable snapshot that the
// server swaps in whole. Later layers override earlier ones by name (built-in < --catalog-dir
// < cluster), and a layer's broken template never removes a good one from an earlier layer.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { validateTemplate } from './validate.js';
import type { Catalog, Template, TemplateFailure, TemplateSource } from '../model/template.js';

export { checkParameterValue } from '../template/parameter-value.js';

export interface ParsedTemplates {
  templates: Template[];
  failures: TemplateFailure[];
}

/**
 * Parses one YAML or JSON text (possibly multi-document) of PatternTemplate objects. YAML is
 * read with the 1.2 core schema into plain JSON values: no timestamps, no custom tags.
 */
export function parseTemplates(text: string, source: TemplateSource): ParsedTemplates {
  const result: ParsedTemplates = { templates: [], failures: [] };
  parseAllDocuments(text, { schema: 'core', uniqueKeys: true }).forEach((document, index) => {
    const fallbackName = `${source}#${index + 1}`;
    if (document.errors.length > 0) {
      result.failures.push({ name: fallbackName, source, problems: document.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`) });
      return;
    }
    const object: unknown = document.toJS({ maxAliasCount: 100 });
    if (object === null || object === undefined) return; // an empty document between separators
    addParsed(result, object, source, fallbackName);
  });
  return result;
}

/** Validates one object already parsed (the cluster source hands these over). */
export function addParsed(into: ParsedTemplates, object: unknown, source: TemplateSource, fallbackName: string): void {
  const validated = validateTemplate(object, source, fallbackName);
  if (validated.ok) into.templates.push(validated.template);
  else into.failures.push({ name: validated.name, source, problems: validated.problems });
}

const BUILTIN_DIR = fileURLToPath(new URL('./builtin/', import.meta.url));

/** The templates that ship inside the package (`dir` is for tests that feed the built-in route their own files). */
export function loadBuiltinTemplates(dir = BUILTIN_DIR): ParsedTemplates {
  return loadDir(dir, () => 'builtin');
}

/** Every *.yaml, *.yml and *.json file in `dir`, in name order. */
export function loadCatalogDir(dir: string): ParsedTemplates {
  return loadDir(dir, (file) => `file:${join(dir, file)}`);
}

function loadDir(dir: string, sourceOf: (file: string) => TemplateSource): ParsedTemplates {
  const files = readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  const result: ParsedTemplates = { templates: [], failures: [] };
  for (const file of files) {
    const parsed = parseTemplates(readFileSync(join(dir, file), 'utf8'), sourceOf(file));
    result.templates.push(...parsed.templates);
    result.failures.push(...parsed.failures);
  }
  return result;
}

/**
 * The layers every catalog starts from, in precedence order: the built-in templates, then the
 * --catalog-dir templates, which override them by name. `podpattern serve` and the offline
 * commands both start from these (serve adds the cluster's layer on top). A refused template is
 * a failure in its layer, for the caller to report; a directory that cannot be read throws.
 */
export function loadStaticLayers(catalogDir: string | undefined): ParsedTemplates[] {
  const layers = [loadBuiltinTemplates()];
  if (catalogDir === undefined) return layers;
  try {
    layers.push(loadCatalogDir(catalogDir));
  } catch (error) {
    throw new Error(
      `--catalog-dir ${catalogDir} cannot be read (${(error as Error).message}): point it at a directory of PatternTemplate YAML/JSON files`,
    );
  }
  return layers;
}

/** Builds a snapshot: later layers override earlier ones by name. */
export function buildCatalog(layers: ParsedTemplates[]): Catalog {
  const templates = new Map<string, Template>();
  const failures = new Map<string, TemplateFailure>();
  for (const layer of layers) {
    for (const template of layer.templates) {
      templates.set(template.name, template);
      failures.delete(template.name);
    }
    for (const failure of layer.failures) failures.set(failure.name, failure);
  }
  const sorted = [...templates.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    get: (name) => templates.get(name),
    list: () => sorted,
    failure: (name) => failures.get(name),
    failures: () => [...failures.values()],
  };
}
