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
const COMBINED = /^(\S+) \S+ (\S+) \[([^\]]+)\] "(\S+) (\S+) ?([^"]*)" (\d{3}) (\d+|-)(?: "([^"]*)" "([^"]*)")?/;
const APACHE_ERROR = /^\[([^\]]+)\] \[([^\]]+)\](?: \[pid (\d+)[^\]]*\])?(?: \[client ([^\]]+)\])? (.*)$/;
const SYSLOG = /^(\w{3} +\d{1,2} \d{2}:\d{2}:\d{2}) (\S+) ([^:[\s]+)(?:\[(\d+)\])?: (.*)$/;
const TIME_KEYS = ['time', 'timestamp', '@timestamp', 'ts'];

export function parseLine(format: LineFormat, line: string): ParsedLine {
  switch (format) {
    case 'json': return parseJson(line);
    case 'ltsv': return withOwnTime(Object.fromEntries(line.split('\t').map((pair) => { const at = pair.indexOf(':'); return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)]; })));
    case 'nginx':
    case 'apache2': {
      const m = COMBINED.exec(line);
      if (m === null) return { fields: { message: line } };
      const fields: Record<string, unknown> = { remote: m[1], user: m[2], method: m[4], path: m[5], protocol: m[6] || undefined, code: Number(m[7]), size: m[8] === '-' ? undefined : Number(m[8]), referer: m[9], agent: m[10] };
      return { ownTime: m[3], fields: dropUndefined(fields) };
    }
    case 'apache_error': {
      const m = APACHE_ERROR.exec(line);
      return m === null ? { fields: { message: line } } : { ownTime: m[1], fields: dropUndefined({ level: m[2], pid: m[3] === undefined ? undefined : Number(m[3]), client: m[4], message: m[5] }) };
    }
    case 'syslog': {
      const m = SYSLOG.exec(line);
      return m === null ? { fields: { message: line } } : { ownTime: m[1], fields: dropUndefined({ host: m[2], ident: m[3], pid: m[4] === undefined ? undefined : Number(m[4]), message: m[5] }) };
    }
    case 'none': {
      const m = ISO_PREFIX.exec(line);
      return m === null ? { fields: { message: line } } : { ownTime: m[1], fields: { message: m[2] } };
    }
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
