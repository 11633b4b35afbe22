// How the log normalizer reads one line, per format, keeping the line's own timestamp. The
// formats are the common ones the template offers (the names fluentd's parsers use, for familiarity):
// none (the whole line, with a leading ISO 8601 / RFC 3339 timestamp recognised), json, ltsv,
// nginx and apache2 (the combined log format), apache_error, and syslog (RFC 3164).

export type LineFormat = 'none' | 'json' | 'ltsv' | 'nginx' | 'apache2' | 'apache_error' | 'syslog';
export const LINE_FORMATS: readonly LineFormat[] = ['none', 'json', 'ltsv', 'nginx', 'apache2', 'apache_error', 'syslog'];

export interface ParsedLine {
  /** The line's own timestamp as it was written, when it has one. */
  ownTime?: string;
  fields: Record<string, unknown>;
}

const ISO_PREFIX = /^\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?\s*(.*)$/;
const APACHE_ERROR = /^\[([^\]]+)\] \[([^\]]+)\](?: \[pid (\d+)[^\]]*\])?(?: \[client ([^\]]+)\])? (.*)$/;
const SYSLOG = /^(\w{3} +\d{1,2} \d{2}:\d{2}:\d{2}) (\S+) ([^:[\s]+)(?:\[(\d+)\])?: (.*)$/;
const TIME_KEYS = ['time', 'timestamp', '@timestamp', 'ts'];

export function parseLine(format: LineFormat, line: string): ParsedLine {
  switch (format) {
    case 'json':
      return parseJson(line);
    case 'ltsv':
      return withOwnTime(
        Object.fromEntries(
          line.split('\t').map((pair) => {
            const at = pair.indexOf(':');
            return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
          }),
        ),
      );
    case 'nginx':
    case 'apache2': {
      const parsed = parseCombined(new Scan(line));
      return parsed ?? { fields: { message: line } };
    }
    case 'apache_error': {
      const m = APACHE_ERROR.exec(line);
      return m === null
        ? { fields: { message: line } }
        : {
            ownTime: m[1],
            fields: dropUndefined({ level: m[2], pid: m[3] === undefined ? undefined : Number(m[3]), client: m[4], message: m[5] }),
          };
    }
    case 'syslog': {
      const m = SYSLOG.exec(line);
      return m === null
        ? { fields: { message: line } }
        : {
            ownTime: m[1],
            fields: dropUndefined({ host: m[2], ident: m[3], pid: m[4] === undefined ? undefined : Number(m[4]), message: m[5] }),
          };
    }
    case 'none': {
      const m = ISO_PREFIX.exec(line);
      return m === null ? { fields: { message: line } } : { ownTime: m[1], fields: { message: m[2] } };
    }
  }
}

/**
 * The combined log format (remote ident user [time] "method path protocol" code size, then
 * optionally "referer" "agent"), read left to right by a cursor that only moves forward. A
 * regular expression for it backtracked on a quoted request with no closing quote: each
 * shorter split of method and path rescanned the rest, quadratic in the line's length (160 KB
 * took 19 s). Here every character is looked at a bounded number of times.
 */
function parseCombined(scan: Scan): ParsedLine | undefined {
  const remote = scan.token(' ');
  if (remote === undefined || scan.token(' ') === undefined) return undefined; // the ident, unused
  const user = scan.token(' ');
  if (user === undefined || !scan.expect('[')) return undefined;
  const time = scan.until(']');
  if (time === undefined || time === '' || !scan.expect(' "')) return undefined;
  const request = readRequest(scan);
  if (request === undefined || !scan.expect(' ')) return undefined;
  const { method, path, protocol } = request;
  const code = scan.match(/\d{3} /y);
  const size = code === undefined ? undefined : scan.match(/\d+|-/y);
  if (size === undefined) return undefined;
  const [referer, agent] = readRefererAndAgent(scan);
  const fields: Record<string, unknown> = {
    remote,
    user,
    method,
    path,
    protocol: protocol || undefined,
    code: Number(code?.trim()),
    size: size === '-' ? undefined : Number(size),
    referer,
    agent,
  };
  return { ownTime: time, fields: dropUndefined(fields) };
}

/** The quoted request: method, path and the rest (the protocol), as `"(\S+) (\S+) ?([^"]*)"` reads it. */
function readRequest(scan: Scan): { method: string; path: string; protocol: string } | undefined {
  const request = scan.until('"');
  if (request === undefined) return undefined;
  const inner = new Scan(request);
  const method = inner.token(' ');
  const path = method === undefined ? undefined : inner.token(' ', true);
  const protocol = inner.rest();
  scan.cost += inner.cost;
  return method === undefined || path === undefined ? undefined : { method, path, protocol };
}

/** ` "referer" "agent"` when both are there; neither otherwise. */
function readRefererAndAgent(scan: Scan): [string | undefined, string | undefined] {
  if (!scan.expect(' "')) return [undefined, undefined];
  const referer = scan.until('"');
  const agent = referer !== undefined && scan.expect(' "') ? scan.until('"') : undefined;
  return agent === undefined ? [undefined, undefined] : [referer, agent];
}

/** Characters the combined-format parser examines for `line`: the measure of its work, for tests. */
export function combinedScanCost(line: string): number {
  const scan = new Scan(line);
  parseCombined(scan);
  return scan.cost;
}

/** A forward-only cursor over a line that counts the characters it examines. */
class Scan {
  at = 0;
  cost = 0;
  constructor(private readonly text: string) {}

  /** The text up to the next `char`, stepping past it; undefined (and nothing moved) when there is none. */
  until(char: string): string | undefined {
    const end = this.text.indexOf(char, this.at);
    this.cost += (end < 0 ? this.text.length : end + 1) - this.at;
    if (end < 0) return undefined;
    const part = this.text.slice(this.at, end);
    this.at = end + 1;
    return part;
  }

  /** A non-empty run without whitespace ended by `char` (or, with `orEnd`, by the end of the text). */
  token(char: string, orEnd = false): string | undefined {
    const part = this.until(char) ?? (orEnd && this.at < this.text.length ? this.rest() : undefined);
    if (part === undefined || part === '') return undefined;
    this.cost += part.length;
    return /\s/.test(part) ? undefined : part;
  }

  expect(prefix: string): boolean {
    this.cost += prefix.length;
    if (!this.text.startsWith(prefix, this.at)) return false;
    this.at += prefix.length;
    return true;
  }

  /** A sticky (`y`) pattern matched here; it must not backtrack over what it matched. */
  match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.at;
    const found = pattern.exec(this.text)?.[0];
    if (found === undefined) return undefined;
    this.cost += found.length;
    this.at += found.length;
    return found;
  }

  rest(): string {
    const part = this.text.slice(this.at);
    this.cost += part.length;
    this.at = this.text.length;
    return part;
  }
}

function parseJson(line: string): ParsedLine {
  try {
    const value: unknown = JSON.parse(line);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return withOwnTime({ ...(value as Record<string, unknown>) });
  } catch {
    // not JSON: kept whole below
  }
  return { fields: { message: line } };
}

function withOwnTime(fields: Record<string, unknown>): ParsedLine {
  const key = TIME_KEYS.find((k) => typeof fields[k] === 'string' || typeof fields[k] === 'number');
  if (key === undefined) return { fields };
  const ownTime = String(fields[key]);
  delete fields[key];
  return { ownTime, fields };
}

function dropUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}
