// The log normalizer: follows the app's log files in the shared volume and writes each line as
// one JSON object on stdout, with the file it came from and the line's own timestamp (`time`;
// `read_at` is when it was read). It keeps the volume bounded: once a file it has read to the
// end is larger than maxFileBytes, it truncates the file, so an app that writes with O_APPEND
// (as loggers do) goes on writing at the new end and the emptyDir never reaches its size limit
// (where the kubelet would evict the pod). A line written in the instant between the last read
// and the truncation can be lost: the price of a bounded volume without the app's help.
import { closeSync, openSync, readSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { parseLine, type LineFormat } from './line-formats.js';
import type { AdapterIo } from './poll.js';

export interface NormalizerOptions {
  dir: string;
  /** File-name glob: letters, digits, '.', '_', '-' and '*'. */
  files: string;
  format: LineFormat;
  maxFileBytes: number;
}

interface Position { ino: number; offset: number; partial: string; refused?: boolean }

/** Positions by file name; the adapter keeps it between polls. */
export type Positions = Map<string, Position>;

/** Reads at most this much per file per poll, so one huge file cannot stall the others. */
const CHUNK = 1 << 20;

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

export function pollLogs(options: NormalizerOptions, positions: Positions, io: AdapterIo): void {
  const match = globToRegExp(options.files);
  const names = readdirSync(options.dir).filter((name) => match.test(name)).sort();
  for (const name of names) readFile(options, join(options.dir, name), name, positions, io);
  for (const name of positions.keys()) if (!names.includes(name)) positions.delete(name);
}

function readFile(options: NormalizerOptions, path: string, name: string, positions: Positions, io: AdapterIo): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isFile()) return;
  let position = positions.get(name);
  // A new file, one replaced by the app's own rotation, or one truncated: read from the start.
  if (position === undefined || position.ino !== stat.ino || stat.size < position.offset) position = { ino: stat.ino, offset: 0, partial: '' };
  positions.set(name, position);
  if (stat.size > position.offset) {
    const length = Math.min(stat.size - position.offset, CHUNK);
    const buffer = Buffer.alloc(length);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buffer, 0, length, position.offset);
    } finally {
      closeSync(fd);
    }
    position.offset += length;
    const lines = (position.partial + buffer.toString('utf8')).split('\n');
    position.partial = lines.pop() ?? '';
    const readAt = new Date().toISOString();
    for (const line of lines) if (line.trim() !== '') emit(options.format, line.replace(/\r$/, ''), name, readAt, io);
  }
  if (position.offset >= options.maxFileBytes && position.partial === '' && statSync(path).size === position.offset) {
    try {
      truncateSync(path, 0);
    } catch (error) {
      if (!position.refused) {
        position.refused = true;
        io.diagnostic('cannot truncate a log file, so the volume is not bounded: give the pod an fsGroup and let the app create its files group-writable (umask 002)', { file: name, error: (error as NodeJS.ErrnoException).code });
      }
      return;
    }
    io.diagnostic('truncated a log file that was read to its end', { file: name, bytes: position.offset });
    position.offset = 0;
  }
}

function emit(format: LineFormat, line: string, file: string, readAt: string, io: AdapterIo): void {
  const parsed = parseLine(format, line);
  io.record({ time: parsed.ownTime ?? readAt, source: 'log-normalizer', file, ...parsed.fields, read_at: readAt });
}
