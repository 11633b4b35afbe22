#!/usr/bin/env node
// The Go programs the chart tests and the release rehearsal run (helm, cosign, crane), built
// from the Go module proxy and cached outside the repository. Each has a module folder in
// scripts/go-tools/<name>/ whose go.mod lists it as a `tool` at one release and whose go.sum
// fixes every byte. They are separate modules on purpose: one go.mod would resolve the
// dependencies they share to the highest version any of them asks for (cosign's
// golang.org/x/crypto and go-containerregistry would move), building binaries nobody released.
//
// A binary lives in $PODPATTERN_TOOLS_CACHE (default ~/.cache/podpattern-tools) under
// <name>-<version>-<hash of go.mod and go.sum>/, so a changed go.sum builds anew. It is built
// in a temporary folder and renamed into place, under a lock (flock(1)) so two runs at once
// wait for each other instead of racing; the build prints what it does and how far it got.
//
//   node scripts/go-tools.mjs [helm|cosign|crane]...   builds what is missing (default: all)
//   import { goTool } from './go-tools.mjs'            absolute path, building on first use
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { setInterval, clearInterval } from 'node:timers';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, 'go-tools');

/**
 * Each tool: its main package, the module whose version it reports, and the -X flag that tells
 * it that version (built from a module it would otherwise say "devel" or nothing).
 * @type {Record<string, { pkg: string, module: string, versionVar: string }>}
 */
export const TOOLS = {
  helm: { pkg: 'helm.sh/helm/v4/cmd/helm', module: 'helm.sh/helm/v4', versionVar: 'helm.sh/helm/v4/internal/version.version' },
  cosign: {
    pkg: 'github.com/sigstore/cosign/v3/cmd/cosign',
    module: 'github.com/sigstore/cosign/v3',
    versionVar: 'sigs.k8s.io/release-utils/version.gitVersion',
  },
  crane: {
    pkg: 'github.com/google/go-containerregistry/cmd/crane',
    module: 'github.com/google/go-containerregistry',
    versionVar: 'github.com/google/go-containerregistry/cmd/crane/cmd.Version',
  },
};

const cache = () => process.env.PODPATTERN_TOOLS_CACHE || join(homedir(), '.cache', 'podpattern-tools');
const say = (/** @type {string} */ line) => process.stderr.write(`[go-tools] ${line}\n`);

/** @param {string} name */
function moduleOf(name) {
  const tool = TOOLS[name];
  if (tool === undefined) throw new Error(`go-tools: no tool ${name} (known: ${Object.keys(TOOLS).join(', ')})`);
  const dir = join(modules, name);
  const goMod = readFileSync(join(dir, 'go.mod'), 'utf8');
  const version = new RegExp(`^\\s*${tool.module.replace(/[.]/g, '\\.')} (v\\S+)`, 'm').exec(goMod)?.[1];
  if (version === undefined) throw new Error(`go-tools: ${dir}/go.mod requires no ${tool.module}`);
  const stamp = createHash('sha256')
    .update(goMod)
    .update(readFileSync(join(dir, 'go.sum')))
    .digest('hex')
    .slice(0, 16);
  const out = join(cache(), `${name}-${version}-${stamp}`);
  return { tool, dir, version, out, binary: join(out, name) };
}

function findGo() {
  for (const candidate of [process.env.GO, '/usr/local/go/bin/go', 'go']) {
    if (candidate && spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/**
 * The absolute path of the named tool, built first if this go.mod/go.sum has no build yet.
 * Throws with what to do when it cannot be built.
 * @param {string} name
 */
export function goTool(name) {
  const { binary } = moduleOf(name);
  if (existsSync(binary)) return binary;
  // The build runs in a child that holds the lock, so this stays synchronous for callers
  // (helmBinary() is called from synchronous code) and a second caller waits for the first.
  mkdirSync(cache(), { recursive: true });
  const locked = spawnSync('flock', [join(cache(), '.go-tools.lock'), process.execPath, fileURLToPath(import.meta.url), '--locked', name], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (locked.error !== undefined) throw new Error(`go-tools: cannot run flock (${locked.error.message}); install util-linux`);
  if (locked.status !== 0 || !existsSync(binary))
    throw new Error(`go-tools: building ${name} failed (see the lines above); fix the cause and run: node scripts/go-tools.mjs ${name}`);
  return binary;
}

/**
 * Builds one tool; the caller holds the lock. Prints a line every 30 s with the packages
 * compiled so far (go build -v names each one), and the time it took.
 * @param {string} name
 */
async function build(name) {
  const { tool, dir, version, out, binary } = moduleOf(name);
  if (existsSync(binary)) return; // built by the run we waited for
  const go = findGo();
  if (go === undefined)
    throw new Error(
      'Go is not installed (needed once to build the tools); install Go 1.26 or newer at /usr/local/go, or set GO=/path/to/go',
    );
  const work = `${out}.partial.${process.pid}`;
  const log = `${out}.log`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  say(
    `building ${name} ${version} from ${dir} into ${out} (log: ${log}); from an empty Go build cache this takes minutes, see test/e2e/README.md`,
  );
  const started = Date.now();
  let packages = 0;
  const logStream = createWriteStream(log);
  const child = spawn(go, ['build', '-v', '-trimpath', '-ldflags', `-s -w -X ${tool.versionVar}=${version}`, '-o', work + '/', tool.pkg], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local' },
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      packages += String(chunk)
        .split('\n')
        .filter((line) => /^[\w.-]+(\/[\w.~-]+)*$/.test(line)).length;
      logStream.write(chunk);
    });
  }
  const timer = setInterval(
    () => say(`${name}: ${packages} packages compiled after ${Math.round((Date.now() - started) / 1000)} s`),
    30_000,
  );
  const code = await new Promise((done) => child.once('close', done));
  clearInterval(timer);
  await new Promise((done) => logStream.end(done));
  if (code !== 0) {
    rmSync(work, { recursive: true, force: true });
    process.stderr.write(readFileSync(log, 'utf8').split('\n').slice(-20).join('\n'));
    throw new Error(`go build of ${name} failed (full log: ${log})`);
  }
  rmSync(out, { recursive: true, force: true });
  renameSync(work, out);
  say(`built ${name} ${version} in ${Math.round((Date.now() - started) / 1000)} s (${packages} packages compiled)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  try {
    if (args[0] === '--locked') await build(String(args[1]));
    else for (const name of args.length > 0 ? args : Object.keys(TOOLS)) say(`${name}: ${goTool(name)}`);
  } catch (error) {
    say(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
