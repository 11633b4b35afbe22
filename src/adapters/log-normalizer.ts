// The log normalizer: follows the app's log files in the shared volume and writes each line as
// one JSON object on stdout, with the file it came from and the line's own timestamp (`time`;
// `read_at` is when it was read). It keeps the volume bounded: once a file it has read to the
// end is larger than maxFileBytes, it truncates the file, so an app that writes with O_APPEND
// (as loggers do) goes on writing at the new end and the emptyDir never reaches its size limit
// (where the kubelet would evict the pod). A line written in the instant between the last read
// and the truncation can be lost: the price of a bounded volume without the app's help.
// Truncating needs write permission on the file, and some apps create theirs without it for
// anyone else, whatever the umask (nginx opens its logs with mode 0644). For those, the adapter
// creates the files first (createLogFiles, from an init container), writable by every container
// of the pod; the app opens the existing file for appending and writes into it, and the adapter,
// its owner, can truncate it.
// The files are the app's, so hostile input: a line longer than MAX_LINE_CHARS (65,536) is written cut
// (with `truncated: true`) and the rest of it skipped up to its newline, so an unfinished line
// holds at most that much memory; a line that cannot be parsed or written back as JSON gives a
// record of its own text, and never costs the lines after it.
import { chmodSync, closeSync, openSync, readSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseLine, type LineFormat } from './line-formats.js';
import type { AdapterIo } from './poll.js';

export interface NormalizerOptions {
  dir: string;
  /** File-name glob: letters, digits, '.', '_', '-' and '*'. */
  files: string;
  format: LineFormat;
  maxFileBytes: number;
}

interface Position {
  ino: number;
  offset: number;
  /** The unfinished last line, at most MAX_LINE_CHARS. */
  partial: string;
  /** Keeps a character split between two reads whole (a read ends at any byte). */
  decoder: StringDecoder;
  /** Bytes skipped of a line already written cut; undefined when not inside one. */
  skipping?: number;
  refused?: boolean;
}

/** Positions by file name; the adapter keeps it between polls. */
export type Positions = Map<string, Position>;

/** Reads at most this much per file per poll, so one huge file cannot stall the others. */
const CHUNK = 1 << 20;
/**
 * Longest line written whole, in characters (UTF-16 code units: at most 192 KiB of UTF-8).
 * Longer ones are written cut to it, with `truncated: true`; the rest, up to the line's
 * newline, is skipped.
 */
export const MAX_LINE_CHARS = 64 * 1024;

export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

/** A file name the adapter may create: one path component, no glob. */
export const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

/**
 * Creates each named file in `dir` that does not exist yet, empty and mode 0666 (not narrowed by
 * the umask), so the app appends to a file the adapter owns and can truncate. A file that exists
 * is left as it is. Returns the names created.
 */
export function createLogFiles(dir: string, names: string[]): string[] {
  const created: string[] = [];
  for (const name of names) {
    if (!FILE_NAME.test(name)) throw new Error(`not a file name: '${name}'`);
    let fd: number;
    try {
      fd = openSync(join(dir, name), 'wx', 0o666);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    closeSync(fd);
    chmodSync(join(dir, name), 0o666);
    created.push(name);
  }
  return created;
}

export function pollLogs(options: NormalizerOptions, positions: Positions, io: AdapterIo): void {
  const match = globToRegExp(options.files);
  const names = readdirSync(options.dir)
    .filter((name) => match.test(name))
    .sort();
  for (const name of names) readFile(options, join(options.dir, name), name, positions, io);
  for (const name of positions.keys()) if (!names.includes(name)) positions.delete(name);
}

function readFile(options: NormalizerOptions, path: string, name: string, positions: Positions, io: AdapterIo): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isFile()) return;
  let position = positions.get(name);
  // A new file, one replaced by the app's own rotation, or one truncated: read from the start.
  if (position === undefined || position.ino !== stat.ino || stat.size < position.offset)
    position = { ino: stat.ino, offset: 0, partial: '', decoder: new StringDecoder('utf8') };
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
    const readAt = new Date().toISOString();
    for (const line of takeLines(position, position.decoder.write(buffer), name, io)) {
      if (line.text.trim() !== '') emit(options.format, line, name, readAt, io);
    }
  }
  if (position.offset >= options.maxFileBytes && position.partial === '' && statSync(path).size === position.offset) {
    try {
      truncateSync(path, 0);
    } catch (error) {
      if (!position.refused) {
        position.refused = true;
        io.diagnostic(
          "cannot truncate a log file, so the volume is not bounded: name the file in the template's create-files, so the adapter creates it before the app starts (or give the pod an fsGroup and let the app create its files group-writable)",
          { file: name, error: (error as NodeJS.ErrnoException).code },
        );
      }
      return;
    }
    io.diagnostic('truncated a log file that was read to its end', { file: name, bytes: position.offset });
    position.offset = 0;
  }
}

interface Line {
  text: string;
  truncated: boolean;
}

/** The whole lines of `text` after the position's partial line; keeps the new partial line, bounded. */
function takeLines(position: Position, text: string, file: string, io: AdapterIo): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
    if (position.skipping !== undefined) {
      io.diagnostic(`a line longer than ${MAX_LINE_CHARS} characters was written cut`, { file, skipped: position.skipping + end - start });
      position.skipping = undefined;
    } else {
      const whole = position.partial + text.slice(start, end);
      lines.push(whole.length > MAX_LINE_CHARS ? cut(whole) : { text: whole.replace(/\r$/, ''), truncated: false });
    }
    position.partial = '';
    start = end + 1;
  }
  if (position.skipping !== undefined) {
    position.skipping += text.length - start;
    return lines;
  }
  position.partial += text.slice(start);
  if (position.partial.length > MAX_LINE_CHARS) {
    // An unfinished line at the bound: written now, cut; the rest is skipped up to its newline.
    lines.push(cut(position.partial));
    position.skipping = position.partial.length - MAX_LINE_CHARS;
    position.partial = '';
  }
  return lines;
}

function cut(text: string): Line {
  return { text: text.slice(0, MAX_LINE_CHARS), truncated: true };
}

function emit(format: LineFormat, line: Line, file: string, readAt: string, io: AdapterIo): void {
  const marker = line.truncated ? { truncated: true } : {};
  try {
    const parsed = parseLine(format, line.text);
    io.record({ time: parsed.ownTime ?? readAt, source: 'log-normalizer', file, ...parsed.fields, ...marker, read_at: readAt });
  } catch (error) {
    // A line that parses but cannot be written back (JSON nested deeper than the stack allows):
    // its text, cut, with why; the lines after it are unaffected.
    const text = line.text.slice(0, MAX_LINE_CHARS / 2);
    io.record({
      time: readAt,
      source: 'log-normalizer',
      file,
      message: text,
      truncated: true,
      error: `the line cannot be written as JSON (${(error as Error).message})`,
      read_at: readAt,
    });
  }
}
