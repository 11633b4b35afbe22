// `podpattern docs [--out DIR] [--examples DIR] [--check]`: writes the built-in catalog's
// reference, one Markdown page per template plus README.md, rendered by catalog/docs.ts. With
// --check it writes nothing and fails when the pages on disk differ (what CI wants).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderCatalogDocs, type DocPage } from '../catalog/docs.js';
import { loadBuiltinTemplates } from '../catalog/index.js';
import type { Template } from '../model/template.js';
import { guard, processIo, type Io } from './common.js';

export const usage = `usage: podpattern docs [--out DIR] [--examples DIR] [--check]

Writes the reference of the built-in templates: DIR/<template>.md for each and DIR/README.md
(default DIR: docs/templates). Each page embeds the example pod <examples>/<template>.yaml when
there is one (default: examples). With --check, writes nothing and exits 1 if DIR is stale.
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string', default: join('docs', 'templates') },
        examples: { type: 'string', default: 'examples' },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) return (io.stdout(usage), 0);
    const pages = renderBuiltinDocs(values.examples);
    if (values.check) return checkPages(pages, values.out, io);
    mkdirSync(values.out, { recursive: true });
    for (const page of pages) writeFileSync(join(values.out, page.file), page.text);
    io.stdout(`wrote ${pages.length} pages to ${values.out}\n`);
    return 0;
  });
}

/** The pages for the built-in catalog, with the examples found in `examplesDir`. */
export function renderBuiltinDocs(examplesDir: string): DocPage[] {
  const { templates, failures } = loadBuiltinTemplates();
  if (failures.length > 0)
    throw new Error(
      `the built-in catalog has invalid templates: ${failures.map((f) => `${f.name}: ${f.problems.join('; ')}`).join(' | ')}`,
    );
  return renderCatalogDocs(templates, readExamples(templates, examplesDir));
}

function readExamples(templates: readonly Template[], dir: string): Record<string, string> {
  const examples: Record<string, string> = {};
  for (const { name } of templates) {
    const file = join(dir, `${name}.yaml`);
    if (existsSync(file)) examples[name] = readFileSync(file, 'utf8');
  }
  return examples;
}

function checkPages(pages: DocPage[], dir: string, io: Io): number {
  const stale = pages.filter((page) => {
    const file = join(dir, page.file);
    return !existsSync(file) || readFileSync(file, 'utf8') !== page.text;
  });
  if (stale.length === 0) return 0;
  io.stderr(
    `podpattern: ${stale.map((p) => join(dir, p.file)).join(', ')} ${stale.length === 1 ? 'is' : 'are'} out of date; run 'npm run docs'\n`,
  );
  return 1;
}
