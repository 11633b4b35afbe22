// The GitHub Actions workflows pass actionlint (built from the Go module proxy by
// scripts/actionlint.mjs, once, into a cache outside the repository), and say what the release
// promises: .ci/run on every push, a multi-arch signed image with an SBOM, the chart with the
// image's digest pushed as an OCI artifact, the npm package with provenance.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { repoRoot } from './helpers.js';

const dir = join(repoRoot, '.github', 'workflows');
const files = readdirSync(dir)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => join(dir, f));

/** Runs actionlint without blocking the event loop, so tap's own timer and messages keep working while it runs. */
function actionlint(paths: string[], timeout = 300_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'scripts', 'actionlint.mjs'), ...paths],
      { encoding: 'utf8', timeout },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, output: `${stdout}${stderr}${error?.killed === true ? `\n(killed after ${timeout} ms)` : ''}` });
      },
    );
  });
}

// The first run on a machine builds actionlint with Go (about 90 s of wall time on a loaded
// 2-core machine, mostly waiting for the Go module proxy and the compiler): this file's
// timeout and the build's are generous for it; later runs take a second.
t.setTimeout(30 * 60_000);
const probe = await actionlint(['-version'], 20 * 60_000);
const unavailable = probe.status === 3 ? `actionlint cannot be built here: ${probe.output.trim()}` : false;

t.test('every workflow passes actionlint', { skip: unavailable }, async (t) => {
  t.ok(files.length >= 2, files.join(', '));
  const result = await actionlint(files);
  t.equal(result.status, 0, result.output);
});

t.test('actionlint does catch a broken workflow', { skip: unavailable }, async (t) => {
  const broken = join(mkdtempSync(join(tmpdir(), 'podpattern-actionlint-')), 'broken.yaml');
  writeFileSync(
    broken,
    'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n        with: { fetch-deep: 1 }\n      - run: echo ${{ github.event.no_such }}\n',
  );
  const result = await actionlint([broken]);
  t.not(result.status, 0);
  t.match(result.output, /fetch-deep/);
});

const workflow = (name: string) => parse(readFileSync(join(dir, name), 'utf8'));

t.test('ci runs .ci/run on every push', async (t) => {
  const ci = workflow('ci.yaml');
  t.ok(ci.on.push, 'on push');
  t.ok(ci.jobs.test.steps.some((s: { run?: string }) => s.run?.includes('./.ci/run')));
});

t.test('release: multi-arch signed image with SBOM, chart with the digest, npm with provenance', async (t) => {
  const release = workflow('release.yaml');
  t.same(release.on.push.tags, ['v*.*.*']);
  const steps = (job: string) =>
    release.jobs[job].steps as Array<{ uses?: string; run?: string; with?: Record<string, unknown>; id?: string }>;
  const build = steps('image').find((s) => s.uses?.startsWith('docker/build-push-action'))!;
  t.equal(build.with?.platforms, 'linux/amd64,linux/arm64');
  t.equal(build.with?.sbom, true);
  t.match(String(build.with?.labels), /steps\.meta\.outputs\.labels/, 'OCI labels from docker/metadata-action');
  t.ok(
    steps('image').some((s) => /cosign sign --yes "\$\{IMAGE\}@\$\{DIGEST\}"/.test(s.run ?? '')),
    'the image is signed by digest',
  );
  t.equal(release.jobs.image.permissions['id-token'], 'write', 'keyless: an OIDC token');
  t.ok(
    steps('chart').some((s) => s.run?.includes('scripts/chart-release.mjs') && s.run.includes('$DIGEST')),
    'the chart gets the image digest',
  );
  t.ok(
    steps('chart').some((s) => /helm -- push .*\$CHARTS/.test(s.run ?? '')),
    'pushed as an OCI artifact',
  );
  t.ok(steps('npm').some((s) => s.run === 'npm publish --provenance --access public'));
  t.equal(release.jobs.npm.permissions['id-token'], 'write');
});

t.test('chart-release.mjs stamps the version, the digest and (--repository) the image repository, keeping comments', async (t) => {
  const chart = mkdtempSync(join(tmpdir(), 'podpattern-chart-'));
  for (const file of ['Chart.yaml', 'values.yaml'])
    writeFileSync(join(chart, file), readFileSync(join(repoRoot, 'helm', 'podpattern', file), 'utf8'));
  const digest = `sha256:${'ab'.repeat(32)}`;
  const stamped = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'chart-release.mjs'), '1.2.3', digest, chart], {
    encoding: 'utf8',
  });
  t.equal(stamped.status, 0, stamped.stderr);
  const chartYaml = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8'));
  t.match(chartYaml, { version: '1.2.3', appVersion: '1.2.3' });
  const values = readFileSync(join(chart, 'values.yaml'), 'utf8');
  t.equal(parse(values).image.digest, digest);
  t.match(values, /# -- A digest \(sha256:\.\.\.\) pins the image exactly/, 'comments kept');
  t.equal(parse(values).image.repository, 'ghcr.io/podpattern/podpattern', 'the repository stays without --repository');
  const moved = spawnSync(
    process.execPath,
    [join(repoRoot, 'scripts', 'chart-release.mjs'), '1.2.4', digest, chart, '--repository', '127.0.0.1:5000/podpattern'],
    { encoding: 'utf8' },
  );
  t.equal(moved.status, 0, moved.stderr);
  t.match(parse(readFileSync(join(chart, 'values.yaml'), 'utf8')).image, { repository: '127.0.0.1:5000/podpattern', digest });
  for (const args of [
    ['v1.2.3', 'latest'],
    ['1.2.3', digest, chart, '--repository', 'https://ghcr.io/x'],
    ['1.2.3', digest, chart, '--repository', 'ghcr.io/x/podpattern:1.0'],
    ['1.2.3', digest, chart, 'extra'],
    ['1.2.3', digest, '--unknown'],
  ]) {
    const bad = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'chart-release.mjs'), ...args], { encoding: 'utf8' });
    t.equal(bad.status, 2, `refused: ${args.join(' ')}`);
    t.match(bad.stderr, /usage/);
  }
  t.equal(parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')).version, '1.2.4', 'a refused call changes nothing');
});

t.test('npm ci --omit=dev works: prepare skips the build without TypeScript', async (t) => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  t.equal(pkg.scripts.prepare, 'node scripts/prepare.mjs');
  // Run the script where TypeScript cannot be resolved, as after npm ci --omit=dev.
  const bare = bareCheckout(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const result = spawnSync(process.execPath, [join(bare, 'scripts', 'prepare.mjs')], { cwd: bare, encoding: 'utf8' });
  t.equal(result.status, 0, result.stderr);
  t.match(result.stdout, /TypeScript is not installed .*not building dist/);
  t.same(
    pkg.files.filter((f: string) => f.includes('bench') || f.includes('test')),
    [],
    'the package carries no benchmarks or tests',
  );
});

t.test('on a Node older than engines.node, prepare stops the install and says how to get the shipped one', async (t) => {
  const bare = bareCheckout(JSON.stringify({ engines: { node: '>=999.0.0' } }));
  const result = spawnSync(process.execPath, [join(bare, 'scripts', 'prepare.mjs')], { cwd: bare, encoding: 'utf8' });
  t.equal(result.status, 1);
  t.match(result.stderr, `podpattern needs Node.js >=999.0.0 (package.json engines); this is ${process.version}`);
  t.match(result.stderr, 'export PATH="$(node scripts/node.mjs bin):$PATH"');
  t.notMatch(result.stdout, /TypeScript|build/, 'nothing built');
});

/** A folder with scripts/prepare.mjs and what it reads (scripts/node.mjs, package.json), and no node_modules. */
function bareCheckout(packageJson: string): string {
  const bare = mkdtempSync(join(tmpdir(), 'podpattern-prepare-'));
  mkdirSync(join(bare, 'scripts'));
  for (const script of ['prepare.mjs', 'node.mjs'])
    writeFileSync(join(bare, 'scripts', script), readFileSync(join(repoRoot, 'scripts', script)));
  writeFileSync(join(bare, 'package.json'), packageJson);
  return bare;
}
