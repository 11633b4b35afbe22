// `npm run image`: builds the repository's Dockerfile (the image users deploy) with buildah
// into an OCI archive, and prints where it is and its digest; the last line of stdout is JSON:
//   {"archive": "/…/<key>.oci.tar", "digest": "sha256:…", "ref": "localhost/podpattern:…"}
//   node scripts/image.mjs [--out FILE] [--label KEY=VALUE]… [--commit SHA] [--refresh-base]
// The base named by the Dockerfile's NODE_IMAGE is made from Debian's packages and the Node.js
// release on the npm registry (scripts/image-base.mjs), since no container registry need be
// reachable; the build's `npm ci` steps reach the npm registry.
// The archive is cached outside the repository (PODPATTERN_IMAGE_CACHE, default
// ~/.cache/podpattern-image) under a key of everything the build reads: the Dockerfile, the
// files of the build context (what .dockerignore leaves), the build arguments and labels, the
// base image and buildah's version. Identical inputs reuse the archive without building.
// Needs root, buildah and mmdebstrap; says which is missing and exits 2 without them.
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { ensureBase } from './image-base.mjs';
import { cacheRoot, EXIT_PREREQUISITE, hashFile, hashParts, missingPrerequisites, run, storageArgs } from './image-tools.mjs';
import { readOciArchive } from './oci.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** Thrown when the build cannot run on this machine; `problems` says why, one per line. */
export class PrerequisiteError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(`the image cannot be built here:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/**
 * @typedef {object} BuildOptions
 * @property {string} [commit] the commit the image reports (default: HEAD, `-dirty` when the
 *   build context differs from it)
 * @property {Record<string, string>} [labels] extra image labels (a different label, a
 *   different image and digest)
 * @property {string} [out] also copy the archive here
 * @property {boolean} [refreshBase] make the base again even when one is cached
 * @property {(line: string) => void} [log] progress lines (default: stderr)
 */

/**
 * @typedef {object} BuiltImage
 * @property {string} archive the OCI archive (`out` when given, else in the cache)
 * @property {string} digest the manifest's digest, `sha256:…`
 * @property {string} configDigest the config's digest, `sha256:…` (the image ID)
 * @property {number} size the archive's size in bytes
 * @property {string} ref the name the archive's index gives the image
 * @property {string} commit
 * @property {{ ref: string, nodeVersion: string, npmVersion: string, debian: string }} base
 * @property {boolean} cached whether the archive was reused rather than built
 */

/**
 * The hash of everything the image is built from: buildah's version, the base, the commit, the
 * labels and every file of the build context.
 * @param {{ files: string[], commit: string, labels: string[][], baseId: string }} inputs
 * @returns {Promise<string>}
 */
async function inputsKey({ files, commit, labels, baseId }) {
  const buildah = (await run('buildah', ['--version'], { capture: true })).trim();
  const fileHashes = [];
  for (const file of files) fileHashes.push(`${file}\0${await describeFile(join(REPO, file))}`);
  return hashParts([
    'podpattern-image 1',
    buildah,
    baseId,
    `PODPATTERN_COMMIT=${commit}`,
    ...labels.map(([k, v]) => `label ${k}=${v}`),
    ...fileHashes,
  ]);
}

/**
 * Builds the Dockerfile into an OCI archive, or reuses the one built from the same inputs.
 * @param {BuildOptions} [options]
 * @returns {Promise<BuiltImage>}
 */
export async function buildImage(options = {}) {
  const log = options.log ?? ((line) => console.error(line));
  const problems = missingPrerequisites();
  if (problems.length > 0) throw new PrerequisiteError(problems);
  const cache = cacheRoot();
  const store = storageArgs(cache);

  const base = await ensureBase({ repo: REPO, cache, refresh: options.refreshBase ?? false, log });
  const files = contextFiles(REPO);
  const commit = options.commit ?? (await headCommit(files));
  const labels = Object.entries(options.labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const key = await inputsKey({ files, commit, labels, baseId: base.id });
  const ref = `localhost/podpattern:${key.slice(0, 16)}`;
  const archive = join(cache, 'images', `${key}.oci.tar`);
  const metaFile = join(cache, 'images', `${key}.json`);

  /** @type {BuiltImage} */
  let built;
  if (existsSync(archive) && existsSync(metaFile)) {
    built = { ...JSON.parse(readFileSync(metaFile, 'utf8')), archive, cached: true };
    log(`image: ${archive} (cached: built before from the same inputs)`);
  } else {
    mkdirSync(join(cache, 'images'), { recursive: true });
    const started = Date.now();
    log(`image: building ${ref} from ${REPO}/Dockerfile on ${base.ref} (commit ${commit})`);
    await run(
      'buildah',
      [
        ...store,
        'build',
        '--isolation',
        'chroot',
        '--layers',
        '--pull=never',
        '--identity-label=false',
        '--build-arg',
        `NODE_IMAGE=${base.ref}`,
        '--build-arg',
        `PODPATTERN_COMMIT=${commit}`,
        ...labels.flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        ...(await registryAccess(cache)),
        '--file',
        join(REPO, 'Dockerfile'),
        '--tag',
        ref,
        REPO,
      ],
      { log },
    );
    const partial = `${archive}.partial-${process.pid}`;
    rmSync(partial, { force: true });
    await run('buildah', [...store, 'push', '--quiet', ref, `oci-archive:${partial}:${ref}`], { log });
    await run('buildah', [...store, 'rmi', ref], { capture: true });
    log(`image: built and exported in ${Math.round((Date.now() - started) / 1000)} s`);
    const image = readOciArchive(partial);
    built = {
      archive,
      digest: image.manifestDigest,
      configDigest: image.manifest.config.digest,
      size: statSync(partial).size,
      ref,
      commit,
      base: { ref: base.ref, nodeVersion: base.nodeVersion, npmVersion: base.npmVersion, debian: base.debian },
      cached: false,
    };
    writeFileSync(metaFile, `${JSON.stringify({ ...built, cached: undefined })}\n`);
    renameSync(partial, archive);
  }
  if (options.out) {
    copyFileSync(archive, options.out);
    built = { ...built, archive: options.out };
  }
  return built;
}

/**
 * How this machine's npm reaches the registry, lent to the build's `npm ci` steps: where the
 * registry is reached through a TLS proxy, the machine's npm trusts an extra CA (its `cafile`,
 * or NODE_EXTRA_CA_CERTS) that the image has no reason to hold. The file and an npmrc naming
 * it (npm's global config, $PREFIX/etc/npmrc, the base's /usr/local/etc/npmrc) are mounted for
 * RUN steps only (buildah --volume), so nothing of them lands in a layer; with no such setting,
 * nothing is mounted and the build is the release's.
 * @param {string} cache
 * @returns {Promise<string[]>}
 */
async function registryAccess(cache) {
  const config = async (/** @type {string} */ key) => (await run('npm', ['config', 'get', key], { capture: true }).catch(() => '')).trim();
  const cafile = [await config('cafile'), process.env.NODE_EXTRA_CA_CERTS ?? ''].find(
    (f) => f && f !== 'null' && f !== 'undefined' && existsSync(f),
  );
  const registry = await config('registry');
  const lines = [];
  const volumes = [];
  if (cafile) {
    lines.push('cafile=/usr/local/etc/podpattern-build-ca.crt');
    volumes.push('--volume', `${cafile}:/usr/local/etc/podpattern-build-ca.crt:ro`);
  }
  if (registry && registry !== 'https://registry.npmjs.org/') lines.push(`registry=${registry}`);
  if (lines.length === 0) return [];
  const npmrc = join(cache, 'build-npmrc');
  writeFileSync(npmrc, `${lines.join('\n')}\n`);
  return [...volumes, '--volume', `${npmrc}:/usr/local/etc/npmrc:ro`];
}

/**
 * The build context's files, relative to the repository, as buildah sends them: everything
 * that .dockerignore does not exclude, sorted.
 * @param {string} repo
 * @returns {string[]}
 */
export function contextFiles(repo) {
  const patterns = readFileSync(join(repo, '.dockerignore'), 'utf8').split('\n');
  // The package is CommonJS and its types declare a default export: `.default` is both.
  const ignore = dockerignore.default().add(patterns);
  // An excluded directory can still hold included files when a `!` pattern re-includes them:
  // walk into it when one may match below it (names it or a path under it, or starts with a
  // wildcard), else skip it whole (node_modules, .git).
  const reincludes = patterns
    .map((p) => p.trim())
    .filter((p) => p.startsWith('!'))
    .map((p) => p.slice(1).replace(/^\/+/, ''));
  /** @param {string} dir */
  const mayReinclude = (dir) => reincludes.some((p) => p === dir || p.startsWith(`${dir}/`) || /^[*?[]/.test(p));
  /** @type {string[]} */
  const files = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(repo, path);
      if (entry.isDirectory()) {
        if (ignore.ignores(rel) && !mayReinclude(rel)) continue;
        walk(path);
      } else if (!ignore.ignores(rel)) {
        files.push(rel);
      }
    }
  };
  walk(repo);
  return files.sort();
}

/**
 * What of a file the build sees: a symlink's target, else the executable bit and content.
 * @param {string} path
 * @returns {Promise<string>}
 */
async function describeFile(path) {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return `link ${readlinkSync(path)}`;
  return `${stat.mode & 0o111 ? 'x' : '-'} ${await hashFile(path)}`;
}

/**
 * HEAD's commit, with `-dirty` when a file of the build context is changed or untracked, so
 * `podpattern version` never names a commit whose sources the image does not hold.
 * @param {string[]} files the build context
 * @returns {Promise<string>}
 */
async function headCommit(files) {
  let head;
  try {
    head = (await run('git', ['rev-parse', 'HEAD'], { cwd: REPO, capture: true })).trim();
  } catch {
    return 'unknown';
  }
  const status = await run('git', ['status', '--porcelain=v1', '-z', '--untracked-files=all'], { cwd: REPO, capture: true });
  const context = new Set(files);
  // -z: "XY path\0", and a rename's or copy's source path as one more entry.
  const changed = status
    .split('\0')
    .filter(Boolean)
    .map((entry) => (/^[ MADRCU?!]{2} /.test(entry) ? entry.slice(3) : entry));
  const dockerfileChanged = changed.some((p) => p === 'Dockerfile' || p === '.dockerignore');
  return changed.some((p) => context.has(p)) || dockerfileChanged ? `${head}-dirty` : head;
}

/** The command line. */
async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      label: { type: 'string', multiple: true },
      commit: { type: 'string' },
      'refresh-base': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run image -- [--out FILE] [--label KEY=VALUE]... [--commit SHA] [--refresh-base]');
    return 0;
  }
  /** @type {Record<string, string>} */
  const labels = {};
  for (const label of values.label ?? []) {
    const eq = label.indexOf('=');
    if (eq <= 0) {
      console.error(`image: --label wants KEY=VALUE, got ${JSON.stringify(label)}`);
      return 2;
    }
    labels[label.slice(0, eq)] = label.slice(eq + 1);
  }
  const started = Date.now();
  const built = await buildImage({
    labels,
    refreshBase: values['refresh-base'] ?? false,
    ...(values.out ? { out: values.out } : {}),
    ...(values.commit ? { commit: values.commit } : {}),
  });
  console.log(`archive: ${built.archive}`);
  console.log(`digest:  ${built.digest}`);
  console.log(
    `size:    ${(built.size / 1e6).toFixed(1)} MB (the archive: compressed layers); base ${built.base.ref} (Node.js ${built.base.nodeVersion}, npm ${built.base.npmVersion}, Debian ${built.base.debian}); ${built.cached ? 'cached' : 'built'} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  console.log(JSON.stringify({ archive: built.archive, digest: built.digest, ref: built.ref }));
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (status) => process.exit(status),
    (error) => {
      console.error(`image: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(error instanceof PrerequisiteError ? EXIT_PREREQUISITE : 1);
    },
  );
}
