// Parameter values and their patterns: a value checked against its parameter's schema (by the
// catalog on defaults at load, by the engine on every annotation value at admission), and the
// budgets a pattern must fit to be compiled at all.
import { RE2JS } from 're2js';
import type { ParameterSpec } from '../model/template.js';

// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's job
const CONTROL = /[\u0000-\u001f\u007f]/u;
/** Strings longer than this are refused unless the parameter sets its own maxLength. */
export const DEFAULT_MAX_LENGTH = 253;

export function checkType(parameter: ParameterSpec, value: unknown): string | undefined {
  switch (parameter.type) {
    case 'string':
      return typeof value === 'string' ? undefined : `must be a string, got ${JSON.stringify(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `must be true or false, got ${JSON.stringify(value)}`;
    case 'integer':
      return Number.isSafeInteger(value) ? undefined : `must be a whole number, got ${JSON.stringify(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `must be a number, got ${JSON.stringify(value)}`;
  }
}

/**
 * Checks a typed value against a parameter's schema; the reason, or undefined when it fits.
 * `pattern` is the parameter's compiled pattern (the template's compiled form keeps it); without
 * it the pattern is compiled here, as for a default checked while its template loads.
 */
export function checkParameterValue(parameter: ParameterSpec, value: unknown, pattern?: RE2JS): string | undefined {
  const typeFault = checkType(parameter, value);
  if (typeFault !== undefined) return typeFault;
  if (parameter.enum !== undefined && !parameter.enum.includes(value as never)) {
    return `must be one of ${parameter.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (typeof value === 'number') {
    if (parameter.minimum !== undefined && value < parameter.minimum) return `must be at least ${parameter.minimum}`;
    if (parameter.maximum !== undefined && value > parameter.maximum) return `must be at most ${parameter.maximum}`;
  }
  if (typeof value === 'string') {
    const maxLength = parameter.maxLength ?? DEFAULT_MAX_LENGTH;
    if (value.length > maxLength) return `must be at most ${maxLength} characters long (got ${value.length})`;
    if (CONTROL.test(value)) return 'must not contain control characters such as newlines or tabs';
    if (parameter.pattern !== undefined && !(pattern ?? RE2JS.compile(parameter.pattern)).test(value))
      return `must match ${parameter.pattern}`;
  }
  return undefined;
}

// Parameter patterns are written by operators but matched against values any pod author
// chooses, so they run on RE2JS, a JavaScript port of RE2 whose matching time is linear in the
// value (https://github.com/google/re2/wiki/WhyRE2): a pattern such as ^([a-z0-9]+-?)*[a-z0-9]$,
// which blocks V8's backtracking engine for seconds on a 30-character value, costs
// microseconds here. RE2 has no backreferences or lookaround; a pattern using them is refused
// when its template loads (compilePattern), so what loads is what runs.
//
// Linear is not cheap: matching costs up to (instructions of the compiled program) × (value
// length), and compiling costs with the program's size too. `^[a-z]{0,1000}…$` with forty such
// repeats (524 characters) compiles to 80,004 instructions and took 1.3 to 2.2 s a review; a
// hundred repeats ran a 200 MB heap out of memory while compiling. So a pattern is measured
// before it is compiled (expandedSize: repeats multiply what they repeat, as the compiler
// expands them), then by its compiled program, and refused past the budgets below.

/** Longest pattern accepted (characters). */
export const MAX_PATTERN_LENGTH = 1024;
/**
 * Instructions one pattern may compile to. The largest built-in (redis-shard's list of up to 64
 * host:port entries) compiles to 1,920; compiling 2,000 took 30 to 90 ms on a busy 2-core machine.
 */
export const MAX_PATTERN_INSTRUCTIONS = 2_500;
/** Instructions all of one template's patterns may compile to, together. */
export const MAX_TEMPLATE_PATTERN_INSTRUCTIONS = 4_000;
/**
 * Instructions × the longest value allowed (maxLength): the most steps one match can take.
 * redis-shard's 1,920 × 4,096 fits.
 */
export const MAX_PATTERN_COST = 8_000_000;

/**
 * A parameter's pattern compiled on the linear-time engine, or why it cannot be used: it does
 * not compile there, or it is past the budgets above. Run once per pattern, when the template
 * is compiled; the compiled pattern is kept on the template.
 */
export function compilePattern(parameter: ParameterSpec & { pattern: string }): RE2JS | string {
  const { pattern } = parameter;
  if (pattern.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  const estimate = expandedSize(pattern);
  if (estimate > MAX_PATTERN_INSTRUCTIONS) {
    return `expands to about ${estimate} instructions, more than ${MAX_PATTERN_INSTRUCTIONS}: each {n,m} repeats what it follows m times, so use * or + with maxLength to bound a value's length`;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    return `not a regular expression podpattern can run in linear time (${(error as Error).message}); backreferences and lookaround are not supported`;
  }
  const size = re.programSize();
  if (size > MAX_PATTERN_INSTRUCTIONS) return `compiles to ${size} instructions, more than ${MAX_PATTERN_INSTRUCTIONS}`;
  const maxLength = parameter.maxLength ?? DEFAULT_MAX_LENGTH;
  if (size * maxLength > MAX_PATTERN_COST) {
    return `is too costly to match: ${size} instructions × ${maxLength} characters (maxLength) is more than ${MAX_PATTERN_COST}; lower maxLength or simplify the pattern`;
  }
  return re;
}

/** Why a parameter's pattern cannot be used, or undefined when it compiles on the linear-time engine within the budgets. */
export function patternProblem(parameter: ParameterSpec & { pattern: string }): string | undefined {
  const compiled = compilePattern(parameter);
  return typeof compiled === 'string' ? compiled : undefined;
}

/**
 * An upper bound of the instructions `pattern` compiles to, found without compiling it: each
 * literal, class or escape counts one; a group its contents and two; an alternative one more;
 * `*`, `+` and `?` one more; `{n,m}` repeats what it follows m times (n + 1 when open), one more
 * each, as RE2's compiler expands it; and three for the whole (its capture and the match).
 * Anything not understood counts as literal characters, which only makes the bound larger.
 */
export function expandedSize(pattern: string): number {
  const frames: Array<{ sum: number; last: number }> = [{ sum: 3, last: 0 }];
  let top = frames[0] as { sum: number; last: number };
  const atom = (size: number): void => {
    top.sum += size;
    top.last = size;
  };
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i];
    if (c === '\\') {
      i = endOfEscape(pattern, i);
      atom(1);
    } else if (c === '[') {
      i = endOfClass(pattern, i);
      atom(1);
    } else if (c === '(') {
      top = { sum: 0, last: 0 };
      frames.push(top);
    } else if (c === ')' && frames.length > 1) {
      const group = (frames.pop() as { sum: number }).sum + 2;
      top = frames[frames.length - 1] as { sum: number; last: number };
      atom(group);
    } else if (c === '|') {
      top.sum += 1;
      top.last = 0;
    } else if (c === '*' || c === '+' || c === '?') {
      top.sum += 1;
      top.last += 1;
    } else if (c === '{' && REPEAT.test(pattern.slice(i, i + 24))) {
      const [text, min, comma, max] = REPEAT.exec(pattern.slice(i, i + 24)) as unknown as [
        string,
        string,
        string | undefined,
        string | undefined,
      ];
      const times = comma === undefined ? Number(min) : max === undefined || max === '' ? Number(min) + 1 : Number(max);
      top.sum += top.last * Math.max(times - 1, 0) + times;
      top.last = top.last * times + times;
      i += text.length - 1;
    } else {
      atom(1);
    }
  }
  while (frames.length > 1) {
    const group = (frames.pop() as { sum: number }).sum + 2;
    (frames[frames.length - 1] as { sum: number }).sum += group;
  }
  return (frames[0] as { sum: number }).sum;
}

const REPEAT = /^\{(\d+)(,(\d*))?\}/;

/** The last index of the escape starting at `from`: `\x`, or `\p{Name}` and `\x{41}` whole. */
function endOfEscape(pattern: string, from: number): number {
  const next = pattern[from + 1];
  if ((next === 'p' || next === 'P' || next === 'x') && pattern[from + 2] === '{') {
    const close = pattern.indexOf('}', from + 2);
    if (close !== -1) return close;
  }
  return from + 1;
}

/** The index of the ']' that closes the class opened at `from` (or the last index). */
function endOfClass(pattern: string, from: number): number {
  let i = from + 1;
  if (pattern[i] === '^') i += 1;
  if (pattern[i] === ']') i += 1; // a leading ']' is a literal
  for (; i < pattern.length; i += 1) {
    const c = pattern[i];
    if (c === '\\') i += 1;
    else if (c === '[' && pattern[i + 1] === ':') {
      const close = pattern.indexOf(':]', i + 2);
      if (close !== -1) i = close + 1;
    } else if (c === ']') return i;
  }
  return pattern.length - 1;
}
