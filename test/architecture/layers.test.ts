// The top-level parts of src/ (engine/, catalog/, admission/, ... and the root files such as
// main.ts) depend on each other in one direction only: no chain of imports leads from a folder
// back to itself. Imports are read with the TypeScript compiler's own pre-processor
// (ts.preProcessFile), which is what tsc uses to find a file's imports, so static, type-only,
// re-export and dynamic `import()` forms are all seen. It is already a dependency; an import
// graph package (madge, dependency-cruiser) would add a hundred transitive packages and has to be
// taught that `./x.js` means `./x.ts`. Type-only imports count: a cycle of types is a cycle
// of concepts too.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every .ts file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The part of src/ a file belongs to: its top-level folder, or the root file itself. */
function partOf(file: string): string {
  return relative(SRC, file).split('/')[0] as string;
}

export interface Edge {
  from: string;
  to: string;
  /** One file-level import that makes the edge, for the failure message. */
  via: string;
}

/** Edges between parts of src/, from every relative import of every file. */
function partEdges(): Edge[] {
  const edges = new Map<string, Edge>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const imported of info.importedFiles) {
      if (!imported.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), imported.fileName.replace(/\.js$/, '.ts'));
      const [from, to] = [partOf(file), partOf(target)];
      if (from !== to && !edges.has(`${from} ${to}`))
        edges.set(`${from} ${to}`, { from, to, via: `${relative(SRC, file)} imports ${imported.fileName}` });
    }
  }
  return [...edges.values()];
}

/** A cycle in the graph as the list of edges that form it, or undefined when there is none. */
export function findCycle(edges: Edge[]): Edge[] | undefined {
  const out = new Map<string, Edge[]>();
  for (const edge of edges) out.set(edge.from, [...(out.get(edge.from) ?? []), edge]);
  const done = new Set<string>();
  const path: Edge[] = [];
  const onPath = new Set<string>();
  const visit = (node: string): Edge[] | undefined => {
    if (done.has(node)) return undefined;
    onPath.add(node);
    for (const edge of out.get(node) ?? []) {
      path.push(edge);
      if (onPath.has(edge.to)) return path.slice(path.findIndex((e) => e.from === edge.to));
      const found = visit(edge.to);
      if (found !== undefined) return found;
      path.pop();
    }
    onPath.delete(node);
    done.add(node);
    return undefined;
  };
  for (const node of out.keys()) {
    const found = visit(node);
    if (found !== undefined) return found;
  }
  return undefined;
}

t.test('the cycle finder finds a cycle when there is one, and only then', async (t) => {
  const edge = (from: string, to: string): Edge => ({ from, to, via: `${from}->${to}` });
  t.same(findCycle([edge('cli', 'engine'), edge('engine', 'model'), edge('catalog', 'model'), edge('cli', 'catalog')]), undefined);
  const cycle = findCycle([edge('cli', 'engine'), edge('engine', 'catalog'), edge('catalog', 'model'), edge('catalog', 'engine')]);
  t.same(
    cycle?.map((e) => e.from),
    ['engine', 'catalog'],
  );
});

t.test('no import cycle between the top-level parts of src/', async (t) => {
  const edges = partEdges();
  t.ok(
    edges.some((e) => e.from === 'engine' && e.to === 'model'),
    'the graph is read (engine imports model)',
  );
  const cycle = findCycle(edges);
  t.same(
    cycle,
    undefined,
    cycle === undefined ? 'no cycle' : `import cycle: ${cycle.map((e) => `${e.from} -> ${e.to} (${e.via})`).join(', ')}`,
  );
});

t.test('model/ is a leaf: it imports no other part of src/', async (t) => {
  t.same(
    partEdges().filter((e) => e.from === 'model'),
    [],
  );
});

t.test('template/ is a leaf beside model/: it imports model/ and nothing else of src/', async (t) => {
  const edges = partEdges();
  t.same(
    edges.filter((e) => e.from === 'template' && e.to !== 'model'),
    [],
  );
  t.ok(
    edges.some((e) => e.from === 'template' && e.to === 'model'),
    'template imports model',
  );
});

t.test('the engine and the policy compiler read templates through template/, never catalog/', async (t) => {
  const edges = partEdges();
  for (const part of ['engine', 'policy']) {
    t.ok(
      edges.some((e) => e.from === part && e.to === 'template'),
      `${part} imports template/`,
    );
    t.same(
      edges.filter((e) => e.from === part && e.to === 'catalog'),
      [],
      `${part} does not import catalog/`,
    );
  }
});

t.test("nothing of the server imports cli/: only the CLI and the program's entry points do", async (t) => {
  const edges = partEdges();
  t.ok(
    edges.some((e) => e.from === 'cli' && e.to === 'engine'),
    'the graph is read (cli imports engine)',
  );
  t.same(
    edges.filter((e) => e.to === 'cli' && e.from !== 'bin'),
    [],
    'no part but bin/ imports cli/',
  );
});

/** Every string literal and template text of a file, from its syntax tree (comments are not nodes). */
function stringTexts(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const texts: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      texts.push((node as ts.LiteralLikeNode).text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return texts;
}

t.test('the podpattern.dev domain is spelled once in src/ (model/domain.ts); keys are built from it', async (t) => {
  const spelled = sourceFiles(SRC).flatMap((file) =>
    stringTexts(file)
      .filter((text) => text.includes('podpattern.dev'))
      .map((text) => `${relative(SRC, file)}: ${JSON.stringify(text)}`),
  );
  // Prose that names the domain (not a key) in two `podpattern check` messages is allowed.
  const keys = spelled.filter((line) => /podpattern\.dev\//.test(line) || /^(?!model\/domain\.ts)[^:]+: "podpattern\.dev"$/.test(line));
  t.same(keys, [], 'no annotation key, label key or API group is spelled outside model/');
  t.ok(
    spelled.some((line) => line.startsWith('model/domain.ts')),
    'the one spelling is found',
  );
});
