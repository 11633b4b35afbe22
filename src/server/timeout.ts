// The API server appends `?timeout=10s` to webhook calls (a Go duration). We answer inside it.

const UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** One number and unit; sticky, so the parts must follow one another with nothing between. */
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds in a Go duration such as `10s`, `1.5s`, `500ms`, `1m30s`; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (UNITS_MS[match[2] as string] as number);
  }
  return total;
}
