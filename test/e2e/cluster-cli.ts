// `npm run cluster`: the e2e control plane for a person to use by hand.
//
//   npm run cluster [-- up [LEG]]   builds (once) and starts a leg (default: current) with the
//                                   release rehearsed (image and chart in a registry on
//                                   loopback), prints the KUBECONFIG to export and the chart to
//                                   install, and leaves it running in the background
//   npm run cluster -- status       what runs, and where
//   npm run cluster -- env          shell lines to eval: KUBECONFIG, the leg's kubectl on PATH,
//                                   PODPATTERN_IMAGE (the image it built, by digest)
//   npm run cluster -- down         stops it and removes its files
//
// The cluster is the one the suite uses (same binaries, flags, node agent); one at a time.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, leg, sleep } from './cluster.js';
import { REPO_ROOT, cannotRun, startCluster } from './harness.js';

const STATE = join(CACHE_DIR, 'cluster.json');
const LOG = join(CACHE_DIR, 'cluster.log');

interface State {
  pid: number;
  leg: string;
  kubernetes: string;
  dir: string;
  kubeconfig: string;
  apiserver: string;
  chart: string;
  version: string;
  image: string;
}

function readState(): State | undefined {
  if (!existsSync(STATE)) return undefined;
  try {
    return JSON.parse(readFileSync(STATE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A progress line on stderr, as build.sh writes its own. */
function say(message: string): void {
  process.stderr.write(`[cluster] ${message}\n`);
}

/** `; last: LINE` from the end of a log, or nothing. */
function lastLine(file: string): string {
  try {
    const line = readFileSync(file, 'utf8').trimEnd().split('\n').at(-1)?.trim() ?? '';
    return line === '' ? '' : `; last: ${line.slice(0, 200)}`;
  } catch {
    return '';
  }
}

function fail(message: string): never {
  process.stderr.write(`npm run cluster: ${message}\n`);
  process.exit(1);
}

async function up(legName: string): Promise<void> {
  const running = readState();
  if (running !== undefined && alive(running.pid)) {
    fail(
      `a cluster already runs (${running.leg}, ${running.kubernetes}): export KUBECONFIG=${running.kubeconfig}, or stop it with npm run cluster -- down`,
    );
  }
  const l = leg(legName);
  const started = Date.now();
  const seconds = (): number => Math.round((Date.now() - started) / 1000);
  say(
    `building what is missing (Kubernetes ${l.kubernetes}, etcd, helm, the image; the first time about an hour on 2 cores, then a minute or two), then starting the cluster`,
  );
  // The harness's own TypeScript; podpattern itself comes from the image the harness builds.
  if (spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' }).status !== 0) fail('npm run build failed (see above)');
  const built = spawnSync('bash', [join(REPO_ROOT, 'test', 'e2e', 'cluster', 'build.sh'), `1.${l.minor}`, 'etcd'], { stdio: 'inherit' });
  if (built.status !== 0) fail('the control plane could not be built (see above)');
  if (spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'go-tools.mjs')], { stdio: 'inherit' }).status !== 0)
    fail('helm, cosign or crane could not be built (see above)');
  const missing = cannotRun(l);
  if (missing !== undefined) fail(missing);
  mkdirSync(CACHE_DIR, { recursive: true });
  rmSync(STATE, { force: true });
  const log = openSync(LOG, 'w');
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '__run', legName], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  // The first run builds the image (minutes); later ones reuse it. The background process writes
  // to its log, so a line every 30 s says how far it is.
  say(`starting the cluster; the image is built first if this checkout changed (its log: ${LOG})`);
  let said = Date.now();
  for (let waited = 0; waited < 1_800_000; waited += 500) {
    if (Date.now() - said >= 30_000) {
      said = Date.now();
      say(`still starting: ${seconds()} s so far${lastLine(LOG)}`);
    }
    const state = readState();
    if (state !== undefined) {
      say(`up in ${seconds()} s`);
      process.stdout.write(
        [
          `Kubernetes ${state.kubernetes} (${state.leg} leg) is up, API server ${state.apiserver}.`,
          '',
          `  eval "$(npm run -s cluster -- env)"   # KUBECONFIG, the leg's kubectl on PATH, PODPATTERN_IMAGE`,
          `  export KUBECONFIG=${state.kubeconfig}   # or just this`,
          `  ${join(l.binDir, 'kubectl')} get nodes   # the leg's own kubectl`,
          `  npm run helm -- install podpattern ${state.chart} --version ${state.version} --plain-http -n podpattern --create-namespace --wait`,
          '',
          `The chart's image: ${state.image} (built as npm run image builds it; the node pulls it from the same registry).`,
          `Logs of every component: ${state.dir}. Stop it with: npm run cluster -- down`,
          '',
        ].join('\n'),
      );
      return;
    }
    if (child.exitCode !== null || !alive(child.pid as number))
      fail(`the cluster did not start; its log (${LOG}):\n${readFileSync(LOG, 'utf8').slice(-4000)}`);
    await sleep(500);
  }
  fail(`the cluster was not up after 30 minutes; see ${LOG}`);
}

/** The background process: starts the cluster, records it, and stops it on SIGTERM. */
async function serve(legName: string): Promise<void> {
  const cluster = await startCluster(legName);
  process.env.PODPATTERN_E2E_KEEP = '0';
  const state: State = {
    pid: process.pid,
    leg: cluster.leg.name,
    kubernetes: cluster.serverVersion,
    dir: cluster.dir,
    kubeconfig: cluster.kubeconfig,
    apiserver: cluster.apiserverUrl,
    chart: cluster.release.chart,
    version: cluster.release.version,
    image: cluster.release.image,
  };
  writeFileSync(STATE, JSON.stringify(state, null, 2));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await cluster.stop();
  rmSync(STATE, { force: true });
  process.exit(0);
}

async function down(): Promise<void> {
  const state = readState();
  if (state === undefined || !alive(state.pid)) {
    rmSync(STATE, { force: true });
    process.stdout.write('no cluster runs\n');
    return;
  }
  process.kill(state.pid, 'SIGTERM');
  for (let waited = 0; waited < 60_000 && alive(state.pid); waited += 250) await sleep(250);
  if (alive(state.pid)) fail(`the cluster (pid ${state.pid}) did not stop within a minute; kill it: kill ${state.pid}`);
  process.stdout.write(`stopped the ${state.leg} cluster (${state.kubernetes})\n`);
}

function status(): void {
  const state = readState();
  if (state === undefined || !alive(state.pid)) {
    process.stdout.write('no cluster runs (start one with npm run cluster)\n');
    return;
  }
  const children = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(state.pid)], { encoding: 'utf8' }).stdout.trim();
  process.stdout.write(
    [
      `${state.leg} leg, Kubernetes ${state.kubernetes}, API server ${state.apiserver} (harness pid ${state.pid})`,
      `export KUBECONFIG=${state.kubeconfig}`,
      'processes:',
      ...children.split('\n').map((line) => `  ${line.trim()}`),
      `logs: ${state.dir}`,
      '',
    ].join('\n'),
  );
}

/** Shell lines that point a shell at the running cluster: for `eval "$(npm run -s cluster -- env)"`. */
function env(): void {
  const state = readState();
  if (state === undefined || !alive(state.pid)) fail('no cluster runs (start one with npm run cluster)');
  const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
  process.stdout.write(
    [
      `export KUBECONFIG=${quote(state.kubeconfig)}`,
      `export PATH=${quote(leg(state.leg).binDir)}:"$PATH"`,
      `export PODPATTERN_IMAGE=${quote(state.image)}`,
      '',
    ].join('\n'),
  );
}

const [command = 'up', argument] = process.argv.slice(2);
switch (command) {
  case 'up':
    await up(argument ?? 'current');
    break;
  case '__run':
    await serve(argument ?? 'current');
    break;
  case 'down':
    await down();
    break;
  case 'status':
    status();
    break;
  case 'env':
    env();
    break;
  default:
    fail(`unknown command '${command}': use up [LEG], status, env or down`);
}
