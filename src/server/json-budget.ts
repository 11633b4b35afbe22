// How much work parsing a body would be, found before parsing it.
//
// JSON.parse is fast on long strings but slow on many small values: a 3.8 MB body of 140,000
// short annotation keys took 190 ms to parse on a busy 2-core machine, and every review waits
// its turn on one event loop. The API server's 3 MiB object limit does not bound the number of
// values, and validation (which would refuse 140,000 annotations) runs only after mutating
// admission. So a body is first scanned, in one pass that only looks for quotes and separators,
// and one with more values than any real pod review is refused with a 413 before it is parsed.
// Openings ('[' and '{') count too: a million nested empty arrays hold neither ':' nor ',' but
// are a million values (800 ms of CPU to parse, and a deep object for whatever walks it).

/**
 * Separators (':' and ',') and openings ('[' and '{') outside strings: about two per object
 * member, one per array item, one per object or array. A real pod review has a few hundred to a
 * few thousand (managedFields included); this is several times the largest we have seen, and
 * parses in a few milliseconds.
 */
export const MAX_JSON_SEPARATORS = 20_000;

/**
 * Whether `text` holds more than `limit` separators. Each separator is one character, so a text
 * no longer than `limit` cannot, and an ordinary review (a few KiB) is never scanned.
 */
export function exceedsSeparators(text: string, limit = MAX_JSON_SEPARATORS): boolean {
  return text.length > limit && countSeparators(text, limit) > limit;
}

/** Counts separators and openings outside strings, stopping once past `limit`. Linear in the text, no allocation. */
export function countSeparators(text: string, limit = MAX_JSON_SEPARATORS): number {
  let count = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = endOfString(text, i + 1);
    } else if (c === 0x3a || c === 0x2c || c === 0x5b || c === 0x7b) {
      count += 1;
      if (count > limit) return count;
    }
    i += 1;
  }
  return count;
}

/** The index of the quote that closes the string starting at `from` (or the end of the text). */
function endOfString(text: string, from: number): number {
  let at = from;
  for (;;) {
    const quote = text.indexOf('"', at);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}
