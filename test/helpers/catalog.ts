// The catalog tests inject from: the built-in templates plus the engine's fixture templates.
import { fileURLToPath } from 'node:url';
import { buildCatalog, loadBuiltinTemplates, loadCatalogDir } from '../../src/catalog/index.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import type { Catalog, Template } from '../../src/model/template.js';

export const fixtureCatalogDir = fileURLToPath(new URL('../fixtures/catalog/', import.meta.url));

export function testCatalog(): Catalog {
  return buildCatalog([loadBuiltinTemplates(), loadCatalogDir(fixtureCatalogDir)]);
}

/** The built-ins with git-sync made available only as `availability` says. */
export function catalogWithAvailableGitSync(availability: unknown): Catalog {
  const builtins = loadBuiltinTemplates();
  const gitSync = builtins.templates.find((x) => x.name === 'git-sync') as Template;
  const verdict = validateTemplate(
    {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'git-sync' },
      spec: { ...gitSync.spec, availability },
    },
    'cluster',
    'git-sync',
  );
  if (!verdict.ok) throw new Error(verdict.problems.join('\n'));
  return buildCatalog([builtins, { templates: [verdict.template], failures: [] }]);
}
