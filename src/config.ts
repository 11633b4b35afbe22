// The only place that reads flags and process.env, so each setting has one home. Every setting
// of `podpattern serve` is declared once in FLAGS below: its flag, its PODPATTERN_* environment
// name, its default and how it is checked. Flags win over the environment; every problem is
// reported at once.
import type { FailureMode } from './admission/review.js';
import type { NativeSidecarMode } from './engine/types.js';
import { OLDEST_SUPPORTED, formatVersion } from './model/server-version.js';

export type { FailureMode };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServeConfig {
  host: string;
  port: number;
  healthPort: number;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** True when neither the cert nor the key path was set: absent files are then generated for development. */
  tlsFilesAreDefault: boolean;
  certCheckSeconds: number;
  catalogDir: string | undefined;
  kubeconfig: string | undefined;
  liveCatalog: 'auto' | 'off';
  exitWithParent: 'on' | 'off';
  nativeSidecars: NativeSidecarMode;
  failureMode: FailureMode;
  drainSeconds: number;
  idleTimeoutSeconds: number;
  readTimeoutSeconds: number;
  /** 0: derived from the container's memory limit (server/connections.ts). */
  maxConnections: number;
  logLevel: LogLevel;
  /** The CA that signs the API server's client certificate; reloaded like the serving pair. */
  clientCaFile: string | undefined;
  clientAuth: ClientAuthMode;
  /** Run the controllers (healing, rollouts) in the replica that holds the Lease: on, or off in every replica. */
  controllers: 'on' | 'off';
  healGraceSeconds: number;
  /** 0: healing off. */
  healRestartsPerMinute: number;
  healIntervalSeconds: number;
  /** Run the rollout controller (templates with spec.rollout.restart: auto) in the leader. */
  rollout: 'on' | 'off';
  rolloutIntervalSeconds: number;
  /** 0: the C heap is never trimmed (server/memory-trim.ts). */
  memoryTrimSeconds: number;
}

/**
 * What a client without a certificate the client CA verified may do: none (no certificate is
 * asked for), events (answered, but its reviews write no Event), required (a 403).
 */
export const CLIENT_AUTH_MODES = ['none', 'events', 'required'] as const;
export type ClientAuthMode = (typeof CLIENT_AUTH_MODES)[number];

type Kind = { type: 'string' } | { type: 'integer'; min: number; max: number } | { type: 'enum'; values: readonly string[] };

interface FlagSpec {
  key: keyof ServeConfig;
  flag: string;
  kind: Kind;
  default: string | undefined;
  help: string;
}

const port = { type: 'integer', min: 0, max: 65535 } as const;

export const FLAGS: readonly FlagSpec[] = [
  { key: 'host', flag: 'host', kind: { type: 'string' }, default: '0.0.0.0', help: 'address both servers bind to' },
  { key: 'port', flag: 'port', kind: port, default: '8443', help: 'HTTPS port of POST /mutate' },
  { key: 'healthPort', flag: 'health-port', kind: port, default: '8080', help: 'plain HTTP port of /healthz, /readyz and /metrics' },
  {
    key: 'tlsCertFile',
    flag: 'tls-cert-file',
    kind: { type: 'string' },
    default: 'certs/tls.crt',
    help: 'serving certificate (PEM, chain allowed); reloaded when it changes',
  },
  {
    key: 'tlsKeyFile',
    flag: 'tls-key-file',
    kind: { type: 'string' },
    default: 'certs/tls.key',
    help: 'private key of the serving certificate (PEM)',
  },
  {
    key: 'certCheckSeconds',
    flag: 'cert-check-seconds',
    kind: { type: 'integer', min: 1, max: 86400 },
    default: '60',
    help: 'how often the certificate files are re-read, besides watching their directory',
  },
  {
    key: 'catalogDir',
    flag: 'catalog-dir',
    kind: { type: 'string' },
    default: undefined,
    help: 'directory of PatternTemplate YAML/JSON files added to the built-in catalog',
  },
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    kind: { type: 'string' },
    default: undefined,
    help: 'kubeconfig for the live catalog (else $KUBECONFIG, ~/.kube/config, in-cluster credentials)',
  },
  {
    key: 'exitWithParent',
    flag: 'exit-with-parent',
    kind: { type: 'enum', values: ['on', 'off'] },
    default: 'off',
    help: 'on: shut down (as on SIGTERM) when the parent process exits; npm start sets it, so stopping npm stops the server',
  },
  {
    key: 'liveCatalog',
    flag: 'live-catalog',
    kind: { type: 'enum', values: ['auto', 'off'] },
    default: 'auto',
    help: 'follow PatternTemplate objects and namespace defaults in the cluster: auto (when credentials are found), off',
  },
  {
    key: 'nativeSidecars',
    flag: 'native-sidecars',
    kind: { type: 'enum', values: ['auto', 'always', 'never'] },
    default: 'auto',
    help: `sidecars as restartPolicy: Always init containers: auto (by the API server's version; without a cluster, Kubernetes ${formatVersion(OLDEST_SUPPORTED)} is assumed), always, never`,
  },
  {
    key: 'failureMode',
    flag: 'failure-mode',
    kind: { type: 'enum', values: ['open', 'closed'] },
    default: 'open',
    help: 'on an internal error: open admits the pod with a warning, closed denies it',
  },
  {
    key: 'drainSeconds',
    flag: 'drain-seconds',
    kind: { type: 'integer', min: 0, max: 3600 },
    default: '5',
    help: 'after SIGTERM, keep serving this long with /readyz failing, then close',
  },
  // Above the keep-alive timeout Node applies between requests (120 s, server/app.ts), so this
  // closes only connections that never send one; connections.ts does the closing.
  {
    key: 'idleTimeoutSeconds',
    flag: 'idle-timeout-seconds',
    kind: { type: 'integer', min: 1, max: 3600 },
    default: '125',
    help: 'close a connection that has had no request this long (one that never sends a request included)',
  },
  {
    key: 'readTimeoutSeconds',
    flag: 'read-timeout-seconds',
    kind: { type: 'integer', min: 1, max: 30 },
    default: '10',
    help: "a request's body must arrive within this once reading starts, or it gets a 408 and its connection is closed",
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    kind: { type: 'integer', min: 0, max: 1_000_000 },
    default: '0',
    help: 'connections held at once on each port; more are closed as they arrive. 0: one per 2.5 MiB of the container memory limit (153 at 384Mi; 4096 with no limit)',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    kind: { type: 'enum', values: LOG_LEVELS },
    default: 'info',
    help: `one of ${LOG_LEVELS.join(', ')}`,
  },
  {
    key: 'clientCaFile',
    flag: 'client-ca-file',
    kind: { type: 'string' },
    default: undefined,
    help: "CA (PEM) that signs the API server's client certificate; the server then asks clients for one. Reloaded when it changes",
  },
  {
    key: 'clientAuth',
    flag: 'client-auth',
    kind: { type: 'enum', values: CLIENT_AUTH_MODES },
    default: undefined,
    help: 'a client without a verified certificate: none (not asked; default without --client-ca-file), events (answered, writes no Event; default with it), required (refused with 403)',
  },
  {
    key: 'controllers',
    flag: 'controllers',
    kind: { type: 'enum', values: ['on', 'off'] },
    default: 'on',
    help: 'with a cluster, the replica holding the podpattern-controllers Lease heals pods that missed injection and rolls templates with restart: auto; off: no replica does (reviews are served either way)',
  },
  {
    key: 'healGraceSeconds',
    flag: 'heal-grace-seconds',
    kind: { type: 'integer', min: 0, max: 86400 },
    default: '60',
    help: 'healing waits until this replica has been ready this long, and leaves pods younger than this alone',
  },
  {
    key: 'healRestartsPerMinute',
    flag: 'heal-restarts-per-minute',
    kind: { type: 'integer', min: 0, max: 600 },
    default: '5',
    help: 'workloads healing restarts in any minute, at most; 0 turns healing off',
  },
  {
    key: 'healIntervalSeconds',
    flag: 'heal-interval-seconds',
    kind: { type: 'integer', min: 5, max: 3600 },
    default: '30',
    help: 'how often the leader looks for pods that missed injection',
  },
  {
    key: 'rollout',
    flag: 'rollout',
    kind: { type: 'enum', values: ['on', 'off'] },
    default: 'on',
    help: 'with --controllers=on, the leader restarts the workloads running an older revision of each cluster template with spec.rollout.restart: auto, behind a health gate; off: no replica does',
  },
  {
    key: 'rolloutIntervalSeconds',
    flag: 'rollout-interval-seconds',
    kind: { type: 'integer', min: 2, max: 3600 },
    default: '10',
    help: 'how often the leader looks at the rollouts of restart: auto templates',
  },
  {
    key: 'memoryTrimSeconds',
    flag: 'memory-trim-seconds',
    kind: { type: 'integer', min: 0, max: 3600 },
    default: '1',
    help: "how often the C heap's free pages are given back to the system (malloc_trim); 0: never",
  },
];

/** `--tls-cert-file` -> `PODPATTERN_TLS_CERT_FILE`: every flag has one. */
export function envName(flag: string): string {
  return `PODPATTERN_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export type ParseResult =
  { kind: 'config'; config: ServeConfig } | { kind: 'help'; text: string } | { kind: 'error'; problems: string[]; text: string };

/** Reads `argv` (the arguments after `serve`) and `env`; never throws. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const problems: string[] = [];
  const fromFlags = readFlags(argv, problems);
  if (fromFlags === 'help') return { kind: 'help', text: helpText() };

  const raw = new Map<keyof ServeConfig, { value: string; origin: string }>();
  for (const spec of FLAGS) {
    const flagValue = fromFlags.get(spec.flag);
    const envValue = env[envName(spec.flag)];
    if (flagValue !== undefined) raw.set(spec.key, { value: flagValue, origin: `--${spec.flag}` });
    else if (envValue !== undefined && envValue !== '') raw.set(spec.key, { value: envValue, origin: envName(spec.flag) });
  }

  const config: Record<string, unknown> = {};
  for (const spec of FLAGS) {
    const given = raw.get(spec.key);
    const text = given?.value ?? spec.default;
    config[spec.key] = text === undefined ? undefined : convert(spec, text, given?.origin ?? 'default', problems);
  }
  config.tlsFilesAreDefault = !raw.has('tlsCertFile') && !raw.has('tlsKeyFile');
  checkClientAuth(config, problems);
  if (typeof config.port === 'number' && config.port !== 0 && config.port === config.healthPort) {
    problems.push(`--port and --health-port are both ${config.port}: give them different ports`);
  }

  if (problems.length > 0) return { kind: 'error', problems, text: helpText() };
  return { kind: 'config', config: config as unknown as ServeConfig };
}

/** --client-auth defaults by whether a client CA is given; a mode that checks clients needs one. */
function checkClientAuth(config: Record<string, unknown>, problems: string[]): void {
  config.clientAuth ??= config.clientCaFile === undefined ? 'none' : 'events';
  if (config.clientAuth !== 'none' && config.clientCaFile === undefined) {
    problems.push(
      `--client-auth=${String(config.clientAuth)} needs --client-ca-file: the CA that signs the API server's client certificate`,
    );
  }
}

function readFlags(argv: readonly string[], problems: string[]): Map<string, string> | 'help' {
  const known = new Set(FLAGS.map((spec) => spec.flag));
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) {
      problems.push(`unexpected argument '${arg}': serve takes only --flags (see --help)`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.has(name)) {
      problems.push(`unknown flag --${name} (see --help for the list)`);
      continue;
    }
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push(`--${name} needs a value, e.g. --${name}=VALUE`);
        continue;
      }
      value = next;
      i += 1;
    }
    if (values.has(name)) problems.push(`--${name} is given more than once`);
    values.set(name, value);
  }
  return values;
}

function convert(spec: FlagSpec, text: string, origin: string, problems: string[]): unknown {
  const { kind } = spec;
  if (kind.type === 'string') {
    if (text.trim() === '') problems.push(`${origin}: must not be empty`);
    return text;
  }
  if (kind.type === 'enum') {
    if (!kind.values.includes(text)) problems.push(`${origin}: '${text}' is not one of ${kind.values.join(', ')}`);
    return text;
  }
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < kind.min || value > kind.max) {
    problems.push(`${origin}: '${text}' is not a whole number from ${kind.min} to ${kind.max}`);
  }
  return value;
}

export function helpText(): string {
  const rows = FLAGS.map((spec) => {
    const shown = spec.default === undefined ? '(unset)' : spec.default;
    return `  --${spec.flag}=VALUE\n      ${spec.help}\n      default ${shown}; env ${envName(spec.flag)}`;
  });
  return [
    'usage: podpattern serve [flags]',
    '',
    'Runs the admission webhook: HTTPS POST /mutate, plain HTTP /healthz, /readyz and /metrics.',
    'Each flag can also be set by its PODPATTERN_* environment variable; a flag wins over it.',
    'When neither TLS file is set and the default files are absent, a development CA and',
    'certificate are generated into certs/.',
    '',
    'flags:',
    ...rows,
    '  --help',
    '      print this text',
    '',
  ].join('\n');
}

/** `podpattern serve`'s settings from its arguments and this process's environment. */
export function readServeConfig(argv: readonly string[]): ParseResult {
  return parseConfig(argv, process.env);
}
