// `podpattern adapter redis-slowlog|storm|log-normalizer [flags]`: the adapter containers of the
// built-in templates of those names. They run from podpattern's own image, so a pod that uses
// them needs no egress, no plugin installed at start and nothing but this pinned image; each
// writes JSON lines on stdout and its own messages on stderr, and stops on SIGTERM.
import { parseArgs } from 'node:util';
import { FILE_NAME, createLogFiles, pollLogs, type Positions } from '../adapters/log-normalizer.js';
import { LINE_FORMATS, type LineFormat } from '../adapters/line-formats.js';
import { pollUntilAborted, processAdapterIo, type AdapterIo } from '../adapters/poll.js';
import { pollSlowlog, type SlowlogState } from '../adapters/redis-slowlog.js';
import { pollStorm } from '../adapters/storm.js';
import { UsageError, guard, processIo, type Io } from './common.js';

export const usage = `usage: podpattern adapter KIND [flags]

KIND and its flags:
  redis-slowlog   polls SLOWLOG GET and writes each new slow command as a JSON line
      --redis-host HOST (127.0.0.1)  --redis-port PORT (6379)  --interval SECONDS (10)  --count N (128)
  storm           polls the Storm UI REST API and writes topology, spout and bolt statistics
      --url URL (http://127.0.0.1:8080)  --interval SECONDS (60)  --window SECONDS (600)  --system-stats 0|1 (0)
  log-normalizer  follows log files in a directory and writes each line as a JSON line
      --dir DIR (required)  --files GLOB (*.log)  --format ${LINE_FORMATS.join('|')} (none)
      --max-file-mib N (64: a file read to its end past N MiB is truncated)  --interval SECONDS (1)
      --create NAMES (comma-separated: files created in DIR, mode 0666, unless they exist)
      --create-only (create them and exit: an init container, before the app starts)
      a line longer than 65,536 characters is written cut, with "truncated": true

Records go to stdout, one JSON object per line; the adapter's own messages go to stderr.
`;

const FLAGS = {
  'redis-host': { type: 'string', default: '127.0.0.1' },
  'redis-port': { type: 'string', default: '6379' },
  count: { type: 'string', default: '128' },
  url: { type: 'string', default: 'http://127.0.0.1:8080' },
  window: { type: 'string', default: '600' },
  'system-stats': { type: 'string', default: '0' },
  dir: { type: 'string' },
  files: { type: 'string', default: '*.log' },
  format: { type: 'string', default: 'none' },
  'max-file-mib': { type: 'string', default: '64' },
  interval: { type: 'string' },
  create: { type: 'string', default: '' },
  'create-only': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_INTERVAL: Record<string, number> = { 'redis-slowlog': 10, storm: 60, 'log-normalizer': 1 };

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  return value;
}

export async function run(
  argv: string[],
  io: Io = processIo,
  adapterIo: AdapterIo = processAdapterIo,
  signal?: AbortSignal,
): Promise<number> {
  return guard(io, usage, async () => {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: FLAGS });
    if (values.help === true) return (io.stdout(usage), 0);
    const [kind, ...extra] = positionals;
    if (kind === undefined || !(kind in DEFAULT_INTERVAL) || extra.length > 0)
      throw new UsageError(`give one KIND: ${Object.keys(DEFAULT_INTERVAL).join(', ')}`);
    const intervalMs = integer('interval', values.interval ?? String(DEFAULT_INTERVAL[kind]), 1, 86_400) * 1000;
    const once = pollerFor(kind, values);
    if (kind === 'log-normalizer') {
      const created = createLogFiles(String(values.dir), fileNames(String(values.create)));
      if (created.length > 0) adapterIo.diagnostic('created log files for the app to append to', { files: created });
      if (values['create-only'] === true) return 0;
    } else if (values.create !== '' || values['create-only'] === true)
      throw new UsageError('--create and --create-only are log-normalizer flags');
    const stop = signal ?? stopSignal();
    adapterIo.diagnostic(`adapter ${kind} started`, { intervalMs });
    await pollUntilAborted(() => once(adapterIo, stop), intervalMs, stop, adapterIo);
    adapterIo.diagnostic(`adapter ${kind} stopped`);
    return 0;
  });
}

type Values = { [K in keyof typeof FLAGS]?: string | boolean };

function pollerFor(kind: string, values: Values): (io: AdapterIo, stop: AbortSignal) => void | Promise<void> {
  const timeoutMs = 5_000;
  if (kind === 'redis-slowlog') {
    const options = {
      host: String(values['redis-host']),
      port: integer('redis-port', String(values['redis-port']), 1, 65_535),
      count: integer('count', String(values.count), 1, 10_000),
      timeoutMs,
    };
    const state: SlowlogState = { lastId: undefined };
    return (io, stop) => pollSlowlog(options, state, io, stop);
  }
  if (kind === 'storm') {
    const url = String(values.url);
    if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(url)) throw new UsageError(`--url must be an http(s) URL, got '${url}'`);
    const system = String(values['system-stats']);
    if (!['0', '1', 'false', 'true'].includes(system)) throw new UsageError(`--system-stats must be 0 or 1, got '${system}'`);
    const options = {
      url,
      window: integer('window', String(values.window), 1, 31_536_000),
      system: system === '1' || system === 'true',
      timeoutMs,
    };
    return (io, stop) => pollStorm(options, io, stop);
  }
  if (values.dir === undefined) throw new UsageError('--dir is required for log-normalizer');
  const format = String(values.format) as LineFormat;
  if (!LINE_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${LINE_FORMATS.join(', ')}, got '${format}'`);
  const files = String(values.files);
  if (!/^[A-Za-z0-9_.*-]+$/.test(files))
    throw new UsageError(`--files must be a file-name glob of letters, digits, '.', '_', '-' and '*', got '${files}'`);
  const options = {
    dir: String(values.dir),
    files,
    format,
    maxFileBytes: integer('max-file-mib', String(values['max-file-mib']), 1, 1_048_576) * 1024 * 1024,
  };
  const positions: Positions = new Map();
  return (io) => pollLogs(options, positions, io);
}

function fileNames(list: string): string[] {
  const names = list === '' ? [] : list.split(',');
  const bad = names.find((name) => !FILE_NAME.test(name));
  if (bad !== undefined) throw new UsageError(`--create takes file names (letters, digits, '.', '_', '-'), comma-separated, got '${bad}'`);
  return names;
}

/** Aborts on SIGTERM (the kubelet stopping the container) or SIGINT. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) process.once(name, () => controller.abort());
  return controller.signal;
}
