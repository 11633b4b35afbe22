// The catalog tests inject from: the built-in templates plus the engine's fixture templates.
import { fileURLToPath } from 'node:url';
import { buildCatalog, loadBuiltinTemplates, loadCatalogDir } from '../../src/catalog/index.js';
import type { Catalog } from '../../src/model/template.js';

export const fixtureCatalogDir = fileURLToPath(new URL('../fixtures/catalog/', import.meta.url));

export function testCatalog(): Catalog {
  return buildCatalog([loadBuiltinTemplates(), loadCatalogDir(fixtureCatalogDir)]);
}
