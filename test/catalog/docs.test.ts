// The catalog reference in docs/templates is generated (`npm run docs`): this fails when the
// committed pages differ from a fresh render, so the docs cannot drift from the templates.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { bounds, renderCatalogDocs, renderTemplatePage } from '../../src/catalog/docs.js';
import { loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';
import { renderBuiltinDocs, run } from '../../src/cli/docs.js';
import type { Io } from '../../src/cli/common.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = join(ROOT, 'docs', 'templates');

function captureIo(): Io & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (text) => out.push(text), stderr: (text) => err.push(text), readStdin: () => '' };
}

t.test('the committed docs/templates match a fresh render', async (t) => {
  const pages = renderBuiltinDocs(join(ROOT, 'examples'));
  const fix = "run 'npm run docs' and commit docs/templates";
  t.same(
    readdirSync(DOCS)
      .filter((f) => f.endsWith('.md'))
      .sort(),
    pages.map((p) => p.file).sort(),
    `one page per built-in template plus README.md (${fix})`,
  );
  for (const page of pages) t.equal(readFileSync(join(DOCS, page.file), 'utf8'), page.text, `${page.file} is up to date (${fix})`);
});

t.test('every template page has what a pod author needs', async (t) => {
  const { templates } = loadBuiltinTemplates();
  for (const template of templates) {
    const page = renderTemplatePage(template, 'example: yes\n');
    t.match(page, `podpattern.dev/${template.spec.pattern}: ${template.name}`, `${template.name}: how to ask for it`);
    for (const name of Object.keys(template.spec.parameters))
      t.match(page, `| \`${name}\` |`, `${template.name}: parameter ${name} in the table`);
    for (const c of [...template.spec.containers, ...template.spec.initContainers])
      t.match(page, c.image, `${template.name}: image ${c.image}`);
    t.match(page, '```yaml\nexample: yes\n```', `${template.name}: the example`);
  }
});

t.test('table cells escape pipes so patterns do not break the table', async (t) => {
  t.equal(bounds({ type: 'string', pattern: '^(a|b)$', maxLength: 3 }), 'matches `^(a\\|b)$`; at most 3 characters');
  t.equal(bounds({ type: 'integer', minimum: 1, maximum: 9 }), '1 to 9');
  t.equal(
    bounds({ type: 'string', enum: ['x', 'y'] }, (s) => s),
    'one of x, y',
  );
  const parsed = parseTemplates(
    'apiVersion: podpattern.dev/v1alpha1\nkind: PatternTemplate\nmetadata: { name: tiny }\nspec:\n  pattern: adapter\n  description: A | B.\n  containers: [{ name: tiny, image: "busybox:1.37.0" }]\n',
    'builtin',
  );
  const [index, page] = renderCatalogDocs(parsed.templates);
  t.match(index?.text, '| [tiny](tiny.md) | A \\| B. |');
  t.match(page?.text, 'This template takes no parameters.');
  t.match(page?.text, 'No example pod is provided');
});

async function docs(t: Test, argv: string[]): Promise<{ code: number; io: ReturnType<typeof captureIo> }> {
  const io = captureIo();
  const code = await run(argv, io);
  t.comment(io.err.join(''));
  return { code, io };
}

t.test('podpattern docs writes the pages and --check reports staleness', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'podpattern-docs-'));
  const examples = join(ROOT, 'examples');
  t.equal((await docs(t, ['--check', '--out', out, '--examples', examples])).code, 1, '--check fails on an empty directory');
  const written = await docs(t, ['--out', out, '--examples', examples]);
  t.equal(written.code, 0);
  t.match(written.io.out.join(''), `wrote 10 pages to ${out}`);
  t.equal(readFileSync(join(out, 'https-proxy.md'), 'utf8'), readFileSync(join(DOCS, 'https-proxy.md'), 'utf8'));
  t.equal((await docs(t, ['--check', '--out', out, '--examples', examples])).code, 0, '--check passes once written');
  const bad = await docs(t, ['--bogus']);
  t.equal(bad.code, 2, 'an unknown flag is a usage error');
  t.match(bad.io.err.join(''), /^podpattern docs: [^\n]+\nRun 'podpattern docs --help' for usage\.\n$/, 'one line and the --help hint');
});
