// What the offline commands share: reading input, loading the catalog, the engine's options.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildCatalog, loadBuiltinTemplates, loadCatalogDir, type ParsedTemplates } from '../catalog/index.js';
import type { Catalog } from '../catalog/types.js';
import type { InjectOptions, NativeSidecarMode } from '../engine/types.js';
import { ManifestError, injectManifest, parseManifests, type ManifestResult } from './manifests.js';

export class UsageError extends Error {}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => string;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: () => readFileSync(0, 'utf8'),
};

export function readInput(file: string | undefined, io: Io): string {
  if (file === undefined) throw new UsageError('-f FILE is required (use -f - for standard input)');
  if (file === '-') return io.readStdin();
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The built-in catalog plus --catalog-dir; a broken template is reported, not fatal. */
export function loadCatalog(dir: string | undefined, io: Io): Catalog {
  const layers: ParsedTemplates[] = [loadBuiltinTemplates()];
  if (dir !== undefined) {
    try {
      layers.push(loadCatalogDir(dir));
    } catch (error) {
      throw new UsageError(`cannot read --catalog-dir ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const catalog = buildCatalog(layers);
  for (const failure of catalog.failures()) {
    io.stderr(`warning: template ${failure.name} (${failure.source}) is invalid and left out:\n${failure.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  }
  return catalog;
}

const NATIVE_MODES: NativeSidecarMode[] = ['auto', 'always', 'never'];

/** --native-sidecars and --kube-version (MAJOR.MINOR, for auto) into engine options. */
export function engineOptions(values: { 'native-sidecars'?: string; 'kube-version'?: string; namespace?: string }): InjectOptions {
  const mode = (values['native-sidecars'] ?? 'auto') as NativeSidecarMode;
  if (!NATIVE_MODES.includes(mode)) throw new UsageError(`--native-sidecars must be one of ${NATIVE_MODES.join(', ')}`);
  const options: InjectOptions = { nativeSidecars: mode, namespace: values.namespace ?? 'default' };
  const version = values['kube-version'];
  if (version !== undefined) {
    const match = /^v?(\d+)\.(\d+)/.exec(version);
    if (match === null) throw new UsageError(`--kube-version must look like 1.30, got '${version}'`);
    options.serverVersion = { major: Number(match[1]), minor: Number(match[2]) };
  }
  return options;
}

/** Runs a command body, turning usage errors into a message and exit code 2. */
export async function guard(io: Io, usage: string, body: () => Promise<number> | number): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`podpattern: ${(error as Error).message}\n\n${usage}`);
      return 2;
    }
    throw error;
  }
}

/** The flags `inject` and `explain` share; `inject` adds -o. */
const MANIFEST_FLAGS = {
  filename: { type: 'string', short: 'f' },
  'catalog-dir': { type: 'string' },
  namespace: { type: 'string' },
  'native-sidecars': { type: 'string' },
  'kube-version': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type ManifestRun = { help: true } | { help: false; results: ManifestResult[]; output: string } | { help: false; exitCode: number };

/**
 * Parses the flags, loads the catalog, reads the manifests and runs the engine on each: what
 * `inject` and `explain` do before they differ in what they print.
 */
export function runOnManifests(argv: string[], io: Io, withOutput: boolean): ManifestRun {
  const { values } = parseArgs({
    args: argv,
    options: withOutput ? { ...MANIFEST_FLAGS, output: { type: 'string', short: 'o', default: 'yaml' } } : MANIFEST_FLAGS,
  });
  if (values.help === true) return { help: true };
  const output = String((values as { output?: string }).output ?? 'yaml');
  if (output !== 'yaml' && output !== 'json') throw new UsageError(`-o must be yaml or json, got '${output}'`);
  const options = engineOptions(values);
  const catalog = loadCatalog(values['catalog-dir'], io);
  let objects: unknown[];
  try {
    objects = parseManifests(readInput(values.filename, io));
  } catch (error) {
    if (!(error instanceof ManifestError)) throw error;
    io.stderr(`podpattern: cannot parse ${values.filename}: ${error.message}\n`);
    return { help: false, exitCode: 1 };
  }
  return { help: false, output, results: objects.map((object) => injectManifest(object, catalog, options)) };
}
