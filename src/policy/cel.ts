// CEL source text built from data, never from pasted text. A template string becomes a list of
// parts (literal text, or a reference to a value the policy computes) and each literal is
// written as a quoted CEL string literal, so nothing in a template or a parameter value can
// close a string or start an expression.

/** A piece of a rendered string: fixed text from the template, or a CEL expression of type string. */
export type Part = { text: string } | { expression: string };

/**
 * A CEL double-quoted string literal for `text`. Backslash, quote and control characters are
 * escaped (CEL spec, "String and bytes values": \\ \" \n \r \t and \uXXXX); every other
 * character is written as itself, as CEL source is UTF-8.
 */
export function quote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === '\\') out += '\\\\';
    else if (char === '"') out += '\\"';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code >= 0xd800 && code <= 0xdfff) throw new Error('a lone UTF-16 surrogate cannot be written in CEL');
    else out += char;
  }
  return `${out}"`;
}

/** `a + b + c` for the parts, merging adjacent literals; "" when there are none. */
export function concat(parts: Part[]): string {
  const merged: Part[] = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if ('text' in part && last !== undefined && 'text' in last) merged[merged.length - 1] = { text: last.text + part.text };
    else if (!('text' in part && part.text === '')) merged.push(part);
  }
  if (merged.length === 0) return '""';
  return merged.map((part) => ('text' in part ? quote(part.text) : `(${part.expression})`)).join(' + ');
}

/** A CEL list literal. */
export function list(items: string[]): string {
  return `[${items.join(', ')}]`;
}

/** A CEL map literal with string keys. */
export function map(entries: [string, string][]): string {
  return `{${entries.map(([key, value]) => `${quote(key)}: ${value}`).join(', ')}}`;
}

/** A literal for a JSON scalar. Integers stay CEL ints; the catalog holds no other numbers here. */
export function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'boolean') return String(value);
  return Number.isInteger(value) ? String(value) : `double(${quote(String(value))})`;
}

/**
 * Doubles every `$` of a string expression: Kubernetes expands $(VAR) in command, args and env
 * values and reads $$ as a literal $ (Kubernetes docs, "Define dependent environment
 * variables"). split/join rather than replace, as both are in every CEL strings library.
 */
export function escapeDollars(expression: string): string {
  return `(${expression}).split("$").join("$$")`;
}

/** The same string JSON-escaped, for values that must not break out of a JSON string. */
export function jsonEscape(expression: string): string {
  return `(${expression}).split("\\\\").join("\\\\\\\\").split("\\"").join("\\\\\\"")`;
}
