// A review's log line holds only bounded fields. The review's own strings (kind, operation, a
// template's name) are not checked for length before the line is written, and the API server's
// 3 MiB object limit would otherwise make a 3 MiB line: each is cut, with '…' as the marker, and
// escaped like every pod-supplied text podpattern echoes. With every field bounded, a review's
// line stays within 8 KiB (test/server/log-bounds.test.ts).
import { MAX_ECHO, MAX_TEMPLATES, printable } from '../engine/bounds.js';

/** An object name's longest legal form (a DNS subdomain, RFC 1123). */
export const MAX_LOGGED_NAME = 253;

/** A review-supplied text as logged: escaped and cut to `max` characters; undefined stays absent. */
export function logText(value: unknown, max = MAX_ECHO): string | undefined {
  return value === undefined ? undefined : printable(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''), max);
}

/** Template names as logged: at most MAX_TEMPLATES of them (a pod asks for no more), each cut. */
export function logNames(names: readonly string[]): string[] {
  const kept = names.length <= MAX_TEMPLATES ? names : names.slice(0, MAX_TEMPLATES);
  return kept.map((name) => printable(name, MAX_ECHO));
}
