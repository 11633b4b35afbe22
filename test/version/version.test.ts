import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readBuildInfo } from '../../src/version/index.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The built binary, as a user runs it (`npm test` builds first). */
function runNode(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

t.test('the version comes from the nearest podpattern package.json, the commit from the build file', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'podpattern-version-'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'podpattern', version: '9.8.7' }));
  const dir = join(root, 'dist', 'src', 'version');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'something-else', version: '0.0.1' }));
  t.same(readBuildInfo(dir), { version: '9.8.7', commit: 'unknown', node: process.version }, 'no build file: commit unknown');
  writeFileSync(join(dir, 'build-info.json'), JSON.stringify({ commit: 'abc123' }));
  t.equal(readBuildInfo(dir).commit, 'abc123');
  writeFileSync(join(dir, 'build-info.json'), 'not json');
  t.equal(readBuildInfo(dir).commit, 'unknown', 'a broken build file is not fatal');
});

t.test('the built command prints the version, the commit and the Node.js version', async (t) => {
  const head = readFileSync(new URL('../../dist/src/version/build-info.json', import.meta.url), 'utf8');
  const commit = (JSON.parse(head) as { commit: string }).commit;
  for (const args of [['version'], ['--version']]) {
    const result = runNode(['dist/src/bin/podpattern.js', ...args]);
    t.equal(result.code, 0, args.join(' '));
    t.equal(result.stdout, `podpattern ${pkg.version} (commit ${commit}, node ${process.version})\n`);
  }
  const json = runNode(['dist/src/bin/podpattern.js', 'version', '-o', 'json']);
  t.same(JSON.parse(json.stdout), { version: pkg.version, commit, node: process.version });
  const bad = runNode(['dist/src/bin/podpattern.js', 'version', '-o', 'xml']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /-o takes text or json/);
});
