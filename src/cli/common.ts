// What the offline commands share: reading input, loading the catalog, the engine's options.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { buildCatalog, loadStaticLayers, type ParsedTemplates } from '../catalog/index.js';
import type { Catalog } from '../model/template.js';
import { nativeSidecarSupport } from '../engine/index.js';
import type { InjectOptions, NativeSidecarMode } from '../engine/types.js';
import { DEFAULTS_LABEL } from '../model/keys.js';
import { OLDEST_SUPPORTED, formatVersion } from '../model/server-version.js';
import { injectDocuments, objectsOf, parseDocuments, type Documents } from './manifests.js';
import { labelOf, type ManifestResult } from '../engine/manifest.js';
import { YamlError } from './yaml.js';
import { declaredNamespaces } from './namespaces.js';

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

/** The built-in catalog plus --catalog-dir; a broken template is reported, not fatal. */
export function loadCatalog(dir: string | undefined, io: Io): Catalog {
  let layers: ParsedTemplates[];
  try {
    layers = loadStaticLayers(dir);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const catalog = buildCatalog(layers);
  for (const failure of catalog.failures()) {
    io.stderr(
      `warning: template ${failure.name} (${failure.source}) is invalid and left out:\n${failure.problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
  }
  return catalog;
}

const NATIVE_MODES: NativeSidecarMode[] = ['auto', 'always', 'never'];

/** The Kubernetes version the CLI assumes when --kube-version is not given (OLDEST_SUPPORTED says why). */
export const DEFAULT_KUBE_VERSION = formatVersion(OLDEST_SUPPORTED);

interface OptionFlags {
  'native-sidecars'?: string;
  'kube-version'?: string;
  namespace?: string;
  'namespace-annotation'?: string[];
}

/** --native-sidecars, --kube-version (MAJOR.MINOR), --namespace and --namespace-annotation into engine options. */
export function engineOptions(values: OptionFlags): InjectOptions {
  const mode = (values['native-sidecars'] ?? 'auto') as NativeSidecarMode;
  if (!NATIVE_MODES.includes(mode)) throw new UsageError(`--native-sidecars must be one of ${NATIVE_MODES.join(', ')}`);
  const version = values['kube-version'] ?? DEFAULT_KUBE_VERSION;
  const match = /^v?(\d+)\.(\d+)(\.\d+)?$/.exec(version);
  if (match === null) throw new UsageError(`--kube-version must look like 1.30, got '${version}'`);
  const options: InjectOptions = {
    nativeSidecars: mode,
    namespace: values.namespace ?? 'default',
    serverVersion: { major: Number(match[1]), minor: Number(match[2]) },
  };
  const annotations: Record<string, string> = {};
  for (const pair of values['namespace-annotation'] ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--namespace-annotation takes KEY=VALUE, got '${pair}'`);
    annotations[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  if (Object.keys(annotations).length > 0) options.namespaceAnnotations = annotations;
  return options;
}

/** What the CLI assumed about the cluster, each with the flag that changes it: `explain` prints these. */
export function assumptions(options: InjectOptions, values: OptionFlags, declared: string[] = []): string[] {
  const version = options.serverVersion;
  const sidecars = nativeSidecarSupport(options);
  const annotations = Object.entries(options.namespaceAnnotations ?? {});
  return [
    `Kubernetes ${version?.major}.${version?.minor}${values['kube-version'] === undefined ? ' (the oldest the chart installs on)' : ''}; set with --kube-version`,
    `native sidecars: ${sidecars.native ? 'yes' : 'no'} (--native-sidecars=${options.nativeSidecars}: ${sidecars.why})`,
    `namespace: ${options.namespace}${values.namespace === undefined ? ' (manifests without metadata.namespace)' : ''}; set with --namespace`,
    annotations.length === 0
      ? 'namespace annotations: none, so no namespace defaults; set with --namespace-annotation KEY=VALUE'
      : `namespace annotations: ${annotations.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')} (as in a namespace labelled ${DEFAULTS_LABEL}=enabled)`,
    ...(declared.length === 0
      ? []
      : [`Namespace objects in the input give their own annotations and labels, for manifests in them: ${declared.join(', ')}`]),
  ];
}

/** A usage error as the CLI prints it: one line saying what was wrong, and where the usage is. */
export function usageError(command: string, message: string): string {
  return `podpattern ${command}: ${message.split('\n')[0]}\nRun 'podpattern ${command} --help' for usage.\n`;
}

/** The command a usage text describes ("usage: podpattern inject …" -> inject). */
function commandOf(usage: string): string {
  return /^usage: podpattern (\S+)/.exec(usage)?.[1] ?? '';
}

/** Runs a command body, turning usage errors into one line, a --help hint and exit code 2. */
export async function guard(io: Io, usage: string, body: () => Promise<number> | number): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(usageError(commandOf(usage), (error as Error).message));
      return 2;
    }
    throw error;
  }
}

/** The flags `inject` and `explain` share; `inject` adds -o. */
const MANIFEST_FLAGS = {
  filename: { type: 'string', short: 'f', multiple: true },
  recursive: { type: 'boolean', short: 'R' },
  'catalog-dir': { type: 'string' },
  namespace: { type: 'string' },
  'namespace-annotation': { type: 'string', multiple: true },
  'native-sidecars': { type: 'string' },
  'kube-version': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type ManifestRun =
  | { help: true }
  | { help: false; documents: Documents; results: ManifestResult[]; output: string; assumptions: string[] }
  | { help: false; exitCode: number };

/**
 * `-f=x.yaml` is `-f x.yaml`, as kubectl reads it (node's parseArgs would take "=x.yaml" as
 * the value of a short option).
 */
function splitShortEquals(argv: string[]): string[] {
  return argv.flatMap((arg) => (/^-[a-zA-Z]=/.test(arg) ? [arg.slice(0, 2), arg.slice(3)] : [arg]));
}

/**
 * Parses the flags, loads the catalog, reads the manifests and runs the engine on each: what
 * `inject` and `explain` do before they differ in what they print. A file that cannot be read
 * or holds no Kubernetes objects stops the run before anything is written.
 */
export function runOnManifests(argv: string[], io: Io, withOutput: boolean): ManifestRun {
  const { values } = parseArgs({
    args: splitShortEquals(argv),
    options: withOutput ? { ...MANIFEST_FLAGS, output: { type: 'string', short: 'o', default: 'yaml' } } : MANIFEST_FLAGS,
  });
  if (values.help === true) return { help: true };
  const output = String((values as { output?: string }).output ?? 'yaml');
  if (output !== 'yaml' && output !== 'json') throw new UsageError(`-o must be yaml or json, got '${output}'`);
  const files = values.filename ?? [];
  if (files.length === 0)
    throw new UsageError('-f FILE is required (use -f - for standard input; repeat -f for more files, -R to read directories recursively)');
  const options = engineOptions(values);
  const catalog = loadCatalog(values['catalog-dir'], io);
  const { documents, problems } = readAll(files, values.recursive === true, io);
  if (problems.length > 0) {
    for (const problem of problems) io.stderr(`podpattern: ${problem}\n`);
    io.stderr(`podpattern: nothing was written: fix ${problems.length === 1 ? 'this' : 'these'} and run again\n`);
    return { help: false, exitCode: 1 };
  }
  const results = injectDocuments(documents, catalog, options);
  const declared = [...declaredNamespaces(objectsOf(documents)).keys()];
  return { help: false, output, documents, results, assumptions: assumptions(options, values, declared) };
}

/** Reads every file (directories: their .yaml, .yml and .json files), collecting one problem line per bad file. */
export function readAll(files: string[], recursive: boolean, io: Io): { documents: Documents; problems: string[] } {
  const documents: Documents = [];
  const problems: string[] = [];
  for (const file of files.flatMap((f) => expand(f, recursive, problems))) {
    let text: string;
    try {
      text = file === '-' ? io.readStdin() : readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`${file}: ${describeError(error)}`);
      continue;
    }
    const name = file === '-' ? 'standard input' : file;
    try {
      const parsed = parseDocuments(text);
      const problem = notKubernetes(parsed);
      if (problem === undefined) documents.push(...parsed);
      else problems.push(`${name}: ${problem}`);
    } catch (error) {
      if (!(error instanceof YamlError)) throw error;
      problems.push(`${name}: not YAML or JSON: ${error.message}`);
    }
  }
  return { documents, problems };
}

const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

/** A directory becomes its manifest files, sorted (recursively with -R), as kubectl reads them. */
function expand(file: string, recursive: boolean, problems: string[], depth = 0): string[] {
  if (file === '-') return [file];
  let isDirectory: boolean;
  try {
    isDirectory = statSync(file).isDirectory();
  } catch (error) {
    problems.push(`${file}: ${describeError(error)}`);
    return [];
  }
  if (!isDirectory) return [file];
  let entries: string[];
  try {
    entries = readdirSync(file).sort();
  } catch (error) {
    problems.push(`${file}: ${describeError(error)}`);
    return [];
  }
  const found = entries.flatMap((entry) => {
    const path = join(file, entry);
    const directory = statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
    if (directory) return recursive ? expand(path, recursive, problems, depth + 1) : [];
    return MANIFEST_EXTENSIONS.some((ext) => entry.endsWith(ext)) ? [path] : [];
  });
  if (found.length === 0 && depth === 0)
    problems.push(
      `${file}: a directory with no ${MANIFEST_EXTENSIONS.join(', ')} files${recursive ? '' : ' (-R reads its subdirectories)'}`,
    );
  return found;
}

function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
  };
  return code === undefined ? (error as Error).message : `${words[code] ?? 'cannot be read'} (${code})`;
}

/** Why the documents are not Kubernetes manifests, or undefined when they are. */
function notKubernetes(documents: Documents): string | undefined {
  if (documents.length === 0) return 'no Kubernetes objects in it (the file is empty)';
  for (const [index, object] of objectsOf(documents).entries()) {
    const o = object as { apiVersion?: unknown; kind?: unknown } | null;
    if (o === null || typeof o !== 'object' || Array.isArray(o))
      return `object ${index + 1} is ${Array.isArray(o) ? 'a list' : `the ${typeof o} ${JSON.stringify(o).slice(0, 40)}`}, not a Kubernetes object`;
    if (typeof o.kind !== 'string' || typeof o.apiVersion !== 'string')
      return `object ${index + 1} (${labelOf(o)}) is not a Kubernetes object: it needs apiVersion and kind`;
  }
  return undefined;
}

/**
 * Parses a command's flags (strict), answering --help and bad flags itself: the values, or the
 * exit code to return (0 after help, 2 after a usage error).
 */
export function parseFlags<T>(
  command: string,
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  help: string,
  io: Io,
): { values: T } | { exit: number } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (error) {
    io.stderr(usageError(command, (error as Error).message));
    return { exit: 2 };
  }
  if (values.help === true) {
    io.stdout(help);
    return { exit: 0 };
  }
  return { values: values as T };
}

/** The arguments of a command about one cluster template: its NAME first, then where podpattern runs and which cluster. */
export interface TemplateArguments {
  name: string;
  /** Where podpattern runs and keeps the template revisions (--podpattern-namespace, default podpattern). */
  podpatternNamespace: string;
  kubeconfig?: string;
  context?: string;
}

/** The flags that say where podpattern runs and which cluster, for the commands that read its cluster objects. */
export const CLUSTER_FLAGS = {
  'podpattern-namespace': { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

/** NAME [--podpattern-namespace NS] [--kubeconfig FILE] [--context NAME]; a usage error or --help is an exit code. */
export function parseTemplateArguments(command: string, argv: string[], help: string, io: Io): TemplateArguments | { exit: number } {
  const named = argv[0] !== undefined && !argv[0].startsWith('-');
  const parsed = parseFlags<{ 'podpattern-namespace'?: string; kubeconfig?: string; context?: string }>(
    command,
    named ? argv.slice(1) : argv,
    CLUSTER_FLAGS,
    help,
    io,
  );
  if ('exit' in parsed) return parsed;
  if (!named) {
    io.stderr(`podpattern ${command}: give the template's NAME\n${help}`);
    return { exit: 2 };
  }
  const { kubeconfig, context } = parsed.values;
  return {
    name: argv[0]!,
    podpatternNamespace: parsed.values['podpattern-namespace'] ?? 'podpattern',
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    ...(context === undefined ? {} : { context }),
  };
}
