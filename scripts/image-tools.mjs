// What scripts/image.mjs and scripts/image-base.mjs share: the cache folder outside the
// repository, a private buildah storage inside it, the check that the build can run here at
// all, and a small promise around child processes.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Exit status of a build that cannot run on this machine (a tool missing, not root). */
export const EXIT_PREREQUISITE = 2;

/** The cache of bases, images and buildah's storage: PODPATTERN_IMAGE_CACHE, else ~/.cache. */
export function cacheRoot() {
  return process.env.PODPATTERN_IMAGE_CACHE || join(homedir(), '.cache', 'podpattern-image');
}

/**
 * buildah's global options for a private storage under the cache, so nothing collides with
 * another user of buildah on the machine. The driver is overlay where the kernel has it and the
 * cache is not itself on an overlay filesystem (layers are then stored as differences), else
 * vfs, which works anywhere but stores every layer as a full copy of the tree: gigabytes per
 * build of this Dockerfile. PODPATTERN_IMAGE_STORAGE_DRIVER chooses one.
 * @param {string} cache
 * @returns {string[]}
 */
export function storageArgs(cache) {
  const driver = storageDriver(cache);
  const root = join(cache, 'storage', driver);
  return ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', driver];
}

/**
 * @param {string} cache
 * @returns {string}
 */
function storageDriver(cache) {
  const chosen = process.env.PODPATTERN_IMAGE_STORAGE_DRIVER;
  if (chosen) return chosen;
  let kernel = '';
  try {
    kernel = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    return 'vfs';
  }
  if (!/\boverlay\n/.test(kernel)) return 'vfs';
  mkdirSync(cache, { recursive: true });
  const fsType = spawnSync('stat', ['-f', '-c', '%T', cache], { encoding: 'utf8' }).stdout.trim();
  return fsType === 'overlayfs' ? 'vfs' : 'overlay';
}

/** A build tool and the Debian package that installs it. */
const TOOLS = [
  { command: 'buildah', package: 'buildah', why: 'builds the Dockerfile' },
  { command: 'mmdebstrap', package: 'mmdebstrap', why: 'makes the Debian root filesystem of the base image' },
  { command: 'tar', package: 'tar', why: 'unpacks the Node.js release' },
  { command: 'npm', package: 'npm (or Node.js from nodejs.org)', why: 'fetches the Node.js release and npm from the npm registry' },
];

/**
 * Everything that keeps the build from running here, one sentence each ([] when it can run).
 * @returns {string[]}
 */
export function missingPrerequisites() {
  const problems = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push(
      "the image build must run as root (for buildah's chroot isolation and storage, and mmdebstrap's namespaces): run it with sudo, or as root in CI",
    );
  }
  for (const tool of TOOLS) {
    const found = spawnSync('sh', ['-c', `command -v ${tool.command}`], { stdio: 'ignore' }).status === 0;
    if (!found) problems.push(`${tool.command} is not installed (it ${tool.why}): apt-get install ${tool.package}`);
  }
  if (process.arch !== 'x64') {
    problems.push(`the base image carries the linux-x64 Node.js release; this machine is ${process.arch}`);
  }
  return problems;
}

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd]
 * @property {boolean} [capture] resolve with stdout instead of passing it through
 * @property {NodeJS.ProcessEnv} [env]
 * @property {(line: string) => void} [log] where the command line is reported
 */

/**
 * Runs a program, passing its output through to stderr (stdout too unless captured); rejects
 * with its status and the command line when it fails.
 * @param {string} command
 * @param {string[]} args
 * @param {RunOptions} [options]
 * @returns {Promise<string>}
 */
export function run(command, args, options = {}) {
  options.log?.(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    // Through env(1), which drops what a test runner or coverage tool puts into the environment
    // of every node process it sees started (tap's loaders in NODE_OPTIONS, V8 coverage), even
    // one whose environment is given: mmdebstrap's hooks run the new root's node and npm, which
    // cannot load them.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', command, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', options.capture ? 'pipe' : process.stderr, process.stderr],
    });
    /** @type {Buffer[]} */
    const out = [];
    child.stdout?.on('data', (chunk) => out.push(chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (status === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${command} ${args.slice(0, 6).join(' ')}… failed (${signal ?? `exit ${status}`})`));
    });
  });
}

/**
 * The sha256 of a file's bytes, hex.
 * @param {string} path
 * @returns {Promise<string>}
 */
export function hashFile(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * The sha256 of a list of strings, each ended by a NUL so that no two lists hash alike.
 * @param {string[]} parts
 * @returns {string}
 */
export function hashParts(parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part}\0`);
  return hash.digest('hex');
}
