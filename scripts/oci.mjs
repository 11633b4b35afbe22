// Reads an OCI image archive (an image layout in a tar file, as `buildah push … oci-archive:`
// writes it) and unpacks its layers into a root filesystem, the way a container runtime does:
// layers in order, each one's whiteouts first removing what lower layers put there (a
// `.wh.NAME` entry removes NAME; `.wh..wh..opq` empties its directory), then its files.
// The format: the OCI image-spec's image-layout.md, manifest.md and layer.md.
// Unpacking keeps owners and modes, so it must run as root.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

/**
 * @typedef {object} Descriptor
 * @property {string} mediaType
 * @property {string} digest
 * @property {number} size
 * @property {Record<string, string>} [annotations]
 */

/**
 * @typedef {object} ImageConfig
 * @property {string} [User]
 * @property {string[]} [Env]
 * @property {string[]} [Entrypoint]
 * @property {string[]} [Cmd]
 * @property {string} [WorkingDir]
 * @property {Record<string, string>} [Labels]
 * @property {Record<string, object>} [ExposedPorts]
 */

/**
 * @typedef {object} OciImage
 * @property {string} manifestDigest the digest by which a registry would name the image
 * @property {{ config: Descriptor, layers: Descriptor[] }} manifest
 * @property {{ architecture: string, os: string, config: ImageConfig, rootfs: { diff_ids: string[] } }} config
 */

/**
 * @param {string} archive
 * @param {string} member
 * @returns {Buffer}
 */
function readMember(archive, member) {
  return execFileSync('tar', ['-xOf', archive, member], { maxBuffer: 64 * 1024 * 1024 });
}

/**
 * @param {string} digest
 * @returns {string}
 */
function blobPath(digest) {
  const [algorithm, hex] = digest.split(':');
  if (!algorithm || !hex || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) throw new Error(`not a digest: ${digest}`);
  return `blobs/${algorithm}/${hex}`;
}

/**
 * The single image of an OCI archive: its manifest's digest, the manifest and the config.
 * @param {string} archive
 * @returns {OciImage}
 */
export function readOciArchive(archive) {
  const index = JSON.parse(readMember(archive, 'index.json').toString('utf8'));
  /** @type {Descriptor[]} */
  const manifests = index.manifests ?? [];
  if (manifests.length !== 1 || !manifests[0]) throw new Error(`${archive}: expected one image in index.json, found ${manifests.length}`);
  const manifestDigest = manifests[0].digest;
  const manifest = JSON.parse(readMember(archive, blobPath(manifestDigest)).toString('utf8'));
  const config = JSON.parse(readMember(archive, blobPath(manifest.config.digest)).toString('utf8'));
  return { manifestDigest, manifest, config };
}

/**
 * Unpacks the archive's image into `rootfs` (created if missing) and returns the image.
 * @param {string} archive
 * @param {string} rootfs
 * @returns {OciImage}
 */
export function unpackOciArchive(archive, rootfs) {
  const image = readOciArchive(archive);
  mkdirSync(rootfs, { recursive: true });
  const layout = mkdtempSync(join(tmpdir(), 'podpattern-oci-'));
  try {
    execFileSync('tar', ['-xf', archive, '-C', layout, 'blobs']);
    for (const layer of image.manifest.layers) {
      if (!/^application\/vnd\.(oci\.image|docker\.image\.rootfs)\.(layer\.v1\.)?(tar|diff\.tar)(\.gzip|\+gzip)?$/.test(layer.mediaType)) {
        throw new Error(
          `${archive}: layer ${layer.digest} has media type ${layer.mediaType}, which this unpacker does not read (plain or gzip tar only)`,
        );
      }
      applyLayer(join(layout, blobPath(layer.digest)), rootfs);
    }
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  return image;
}

/**
 * One layer onto the root filesystem: whiteouts, then the layer's own files.
 * @param {string} layer a tar file, plain or gzip (tar tells them apart)
 * @param {string} rootfs
 */
function applyLayer(layer, rootfs) {
  const entries = execFileSync('tar', ['-tf', layer], { maxBuffer: 256 * 1024 * 1024 })
    .toString('utf8')
    .split('\n');
  for (const entry of entries) {
    const name = posix.basename(entry);
    if (!name.startsWith('.wh.')) continue;
    const dir = safeJoin(rootfs, posix.dirname(entry));
    if (name === '.wh..wh..opq') {
      for (const child of listDir(dir)) rmSync(join(dir, child), { recursive: true, force: true });
    } else {
      rmSync(safeJoin(dir, name.slice('.wh.'.length)), { recursive: true, force: true });
    }
  }
  execFileSync('tar', ['-xf', layer, '-C', rootfs, '--numeric-owner', '--same-owner', '--same-permissions', '--exclude=.wh.*']);
}

/**
 * `root/relative`, the relative path read as if root were `/`, so `..` cannot climb out.
 * @param {string} root
 * @param {string} relative
 * @returns {string}
 */
function safeJoin(root, relative) {
  return join(root, posix.normalize(`/${relative}`));
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
 * The sizes that describe an image: its layers as shipped (compressed) and as unpacked.
 * @param {string} archive
 * @returns {{ compressed: number, layers: number }}
 */
export function layerSizes(archive) {
  const { manifest } = readOciArchive(archive);
  return { compressed: manifest.layers.reduce((sum, l) => sum + l.size, 0), layers: manifest.layers.length };
}
