// Limits on the work a review may cause and on the size of what it answers. A pod's annotations
// and spec are hostile input up to the API server's 3 MiB object limit: without these, a pod
// listing thousands of template names or unknown podpattern.dev/* keys made a denial of many
// megabytes (every problem in the message and again in its causes) and took seconds. Each
// limit is applied before the work it bounds, and what is left out is counted, never dropped
// silently.

/** Template names one pod may ask for, over its three pattern annotations. */
export const MAX_TEMPLATES = 32;
/** Problems a denial lists; the rest are counted ("… and 12 more problems"). */
export const MAX_PROBLEMS = 20;
/**
 * Bytes of one problem's message in a denial. The message lists at most MAX_PROBLEMS problems and
 * the causes repeat each one, so 20 of 1,200 bytes keep the whole answer well under 64 KiB however
 * long a template's parameter descriptions are (they are echoed in "needs parameter X: …").
 */
export const MAX_PROBLEM_BYTES = 1200;
/** Warnings an answer carries; the last says how many more there were. */
export const MAX_WARNINGS = 20;
/** Characters of a pod-supplied value echoed in a message (after escaping). */
export const MAX_ECHO = 64;
/** Containers (plus init containers) and volumes of a pod the engine will look at. */
export const MAX_CONTAINERS = 256;
export const MAX_VOLUMES = 512;
/**
 * Longest patch (as JSON) an injection may answer with; base64 makes it a third longer. The
 * largest built-in composition is about 6 KiB: the limit only stops a pod whose many containers
 * would each receive a template's app wiring.
 */
export const MAX_PATCH_BYTES = 40 * 1024;
/** Env vars, mounts and ports per container the engine will look at. */
export const MAX_PER_CONTAINER = 512;

// C0 and C1 controls, DEL, and format characters (bidirectional overrides, zero-width joiners,
// the byte-order mark), plus the line and paragraph separators: a value echoed into a denial
// reaches kubectl's terminal and the pod's Events, where these would move the cursor, reorder
// the text or hide part of it.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
const HAS_UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/**
 * A pod-supplied text made safe to echo: unprintable characters written as \u{…} escapes and
 * the result cut to `max` characters. Only the start of a long text is looked at, so the cost
 * does not grow with the input.
 */
export function printable(text: string, max = MAX_ECHO): string {
  // The common case, a short name with nothing to escape, is the text itself.
  if (text.length <= max && !HAS_UNPRINTABLE.test(text)) return text;
  const head = text.length > max * 2 ? text.slice(0, max * 2) : text;
  const escaped = head.replace(UNPRINTABLE, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);
  const chars = Array.from(escaped); // by code point, so a surrogate pair is never cut in two
  return chars.length <= max && head.length === text.length ? escaped : `${chars.slice(0, max).join('')}…`;
}

/** `text` cut to at most `maxBytes` of UTF-8, ending in '…' when cut; never splits a character. */
export function cutBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // a UTF-16 unit is at most 3 bytes of UTF-8
  let bytes = 0;
  let end = 0;
  let fits = -1; // where the text ends if cut with room for the 3-byte marker
  for (const char of text.slice(0, maxBytes)) {
    const code = char.codePointAt(0) as number;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes > maxBytes) break;
    end += char.length;
    if (bytes <= maxBytes - 3) fits = end;
  }
  return end === text.length && bytes <= maxBytes ? text : `${text.slice(0, fits)}…`;
}

/** Keeps the first `max` items and says how many were left out. */
export function capList<T>(items: readonly T[], max: number): { kept: T[]; more: number } {
  return items.length <= max ? { kept: [...items], more: 0 } : { kept: items.slice(0, max), more: items.length - max };
}

/** Warnings as sent back: at most MAX_WARNINGS, the last one saying how many were left out. */
export function capWarnings(warnings: readonly string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return [...warnings];
  const kept = warnings.slice(0, MAX_WARNINGS - 1);
  kept.push(`${warnings.length - kept.length} more warnings are not shown`);
  return kept;
}
