// README.md's "Try it in a cluster" block, run as written: the commands are read from the README
// (the fenced block after its marker comment), not copied here, and run by bash in the checkout
// with -e and pipefail, so the README cannot drift from what works. It starts its own cluster
// with `npm run cluster`, installs the local chart, applies the Deployment and reads the stored
// pod; the block's last command stops the cluster, and the teardown does too if it failed.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.js';

const MARKER = '<!-- The block below is run as written by test/e2e/readme.test.ts. -->';

/** The shell block that follows the marker in README.md. */
function clusterBlock(readme: string): string {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no "${MARKER}" line: the cluster path it marks is gone`);
  const fenced = /^```sh\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length));
  if (fenced?.[1] === undefined) throw new Error('README.md: no ```sh block after the marker');
  return fenced[1];
}

// A cold machine builds the control plane first (an hour); the image and the install take
// minutes. The ceiling only ends a hang.
t.setTimeout(90 * 60_000);

t.test('README: try it in a cluster, as written', async (t) => {
  const block = clusterBlock(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  t.match(block, /^npm run cluster\b/m, 'it starts the cluster');
  t.match(block, /^npm run helm -- install podpattern helm\/podpattern /m, 'it installs the chart of this checkout');
  const script = join(mkdtempSync(join(tmpdir(), 'podpattern-readme-')), 'cluster.sh');
  writeFileSync(script, block);
  t.teardown(() => {
    spawnSync('npm', ['run', '-s', 'cluster', '--', 'down'], { cwd: REPO_ROOT, stdio: 'ignore' });
  });
  // The user's shell: no cluster chosen before the block chooses one, and none of what tap sets
  // for its own processes (TS_NODE_TRANSPILE_ONLY=1 among it: with it inherited, an npm script
  // that type-checks where a user's shell would not passed here and failed for the user).
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(TAP|_TAPJS_|TS_NODE_)/.test(name) && name !== 'NODE_OPTIONS' && name !== 'KUBECONFIG',
    ),
  );
  const started = Date.now();
  const child = spawn('bash', ['-euo', 'pipefail', script], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  // npm run cluster reports its progress on both streams; passed on, so a long build shows.
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
  t.comment(`the README block ran in ${Math.round((Date.now() - started) / 1000)} s`);
  t.equal(code, 0, `the block exits 0\n--- stdout\n${stdout.slice(-6000)}\n--- stderr\n${stderr.slice(-6000)}`);
  const pod = /^web-[a-z0-9]+-[a-z0-9]+: init (.*), containers (.*)$/m.exec(stdout);
  t.ok(pod, `the last kubectl get prints the stored pod:\n${stdout.slice(-2000)}`);
  t.equal(pod?.[1], 'https-proxy', 'the proxy is a native sidecar (an init container)');
  t.equal(pod?.[2], 'web', 'beside the app container');
  t.match(stderr, /^\[cluster\] up in \d+ s$/m, 'npm run cluster says how long it took');
  t.match(stdout, /stopped the current cluster/, 'and the cluster is stopped');
});
