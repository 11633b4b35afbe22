// Reads the Dockerfile for the properties the install depends on: multi-stage, production
// dependencies only, a pinned Node LTS base, a numeric non-root user, the right entrypoint, and
// no certificates in the image. test/image builds it and checks the image itself
// (`npm run test:image`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ignore from '@balena/dockerignore';
import t from 'tap';
import { SERVE_NODE_FLAGS } from '../../src/server/node-flags.js';
import { repoRoot } from './helpers.js';

const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
// Docker's own matching of .dockerignore (the package docker-modem uses), so the tests ask
// what reaches the build context rather than which lines the file has.
const dockerignore = ignore.default().add(readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n'));
const sent = (path: string): boolean => !dockerignore.ignores(path);
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((all, line) => {
  if (/^FROM\s/i.test(line)) all.push([]);
  all.at(-1)?.push(line);
  return all;
}, []);
const runtime = stages.at(-1) ?? [];

t.test('multi-stage on a pinned Node LTS image', async (t) => {
  t.ok(stages.length >= 2, `${stages.length} stages`);
  const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? '';
  t.match(
    image,
    /^node:(22|24)[.\d]*-[a-z]+-slim$|^node:(22|24)[.\d]*-alpine[.\d]*$/,
    `base ${image} is Node 22 or 24 LTS, slim or alpine, not latest`,
  );
  for (const stage of stages) t.match(stage[0], /^FROM \$\{NODE_IMAGE\}( AS \w+)?$/, 'every stage uses the pinned base');
});

t.test('the runtime stage has production dependencies and the build output only', async (t) => {
  const deps = stages.find((s) => s.some((l) => /npm ci .*--omit=dev/.test(l)));
  t.ok(deps, 'some stage installs with --omit=dev');
  t.match(
    deps?.find((l) => /npm ci/.test(l)),
    /--ignore-scripts/,
    '"prepare" (the TypeScript build) does not run without dev dependencies',
  );
  const copies = runtime.filter((l) => /^COPY/.test(l));
  t.same(
    copies.map((l) => l.replace(/\s+/g, ' ')),
    ['COPY --from=deps /app/node_modules ./node_modules', 'COPY --from=build /app/dist/src ./dist/src', 'COPY package.json ./'],
  );
  t.notMatch(runtime.join('\n'), /npm (install|ci)(?!.*--omit=dev)/, 'no dev install in the runtime stage');
});

t.test('runs as a numeric non-root user, with the podpattern entrypoint', async (t) => {
  const user = runtime.find((l) => /^USER /.test(l)) ?? '';
  const [uid, gid] = user.replace('USER ', '').split(':');
  t.match(uid, /^[1-9][0-9]*$/, 'numeric uid, so runAsNonRoot can be checked');
  t.match(gid, /^[1-9][0-9]*$/, 'numeric gid');
  t.ok(
    runtime.includes(`ENTRYPOINT ${JSON.stringify(['node', ...SERVE_NODE_FLAGS, 'dist/src/bin/podpattern.js']).replace(/","/g, '", "')}`),
    'node with the serve flags',
  );
  t.ok(runtime.includes('CMD ["serve"]'));
  t.notMatch(dockerfile, /VOLUME|chmod|chown/, 'nothing that expects a writable root filesystem');
});

t.test('npm start and npm run bench run node with the same flags as the image', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const flags = SERVE_NODE_FLAGS.join(' ');
  // exec: npm's child is the server; --exit-with-parent: it stops when npm is stopped (test/npm-start.test.ts).
  t.equal(scripts.start, `exec node ${flags} dist/src/bin/podpattern.js serve --exit-with-parent=on`);
  t.match(scripts.bench, `node ${flags} dist/bench/run.js`);
});

t.test('the image carries no benchmarks and has OCI labels', async (t) => {
  t.notOk(sent('bench/run.ts'), '.dockerignore keeps bench/ out of the build context');
  t.notMatch(runtime.join('\n'), /bench/, 'and the runtime stage copies only dist/src');
  for (const label of ['title', 'description', 'source', 'licenses', 'revision'])
    t.match(runtime.join('\n'), new RegExp(`org\\.opencontainers\\.image\\.${label}=`), label);
});

t.test('no certificates or keys reach the image', async (t) => {
  t.notMatch(instructions.join('\n'), /COPY[^\n]*(certs|\.key|\.pem|\.crt)/i);
  for (const path of [
    'certs/tls.key',
    'certs/ca.crt',
    'tls.key',
    'src/server/dev.key',
    'src/certs/leaf.pem',
    'src/x.crt',
    'node_modules/tap/package.json',
    'dist/src/main.js',
    '.git/HEAD',
    'test/main.test.ts',
    '.cache/x',
  ]) {
    t.notOk(sent(path), `.dockerignore keeps ${path} out of the build context`);
  }
  for (const path of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'src/main.ts',
    'src/catalog/builtin/https-proxy.yaml',
    'scripts/copy-assets.mjs',
  ]) {
    t.ok(sent(path), `the build reads ${path}`);
  }
});
