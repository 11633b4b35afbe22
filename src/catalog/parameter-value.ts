// Checks one parameter value against its schema: used by the catalog on defaults at load and by
// the engine on every annotation value at admission. Kept apart from validate.ts so the engine
// does not load the template schema compiler.
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

/** Checks a typed value against a parameter's schema; the reason, or undefined when it fits. */
export function checkParameterValue(parameter: ParameterSpec, value: unknown): string | undefined {
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
    if (parameter.pattern !== undefined && !compilePattern(parameter.pattern).test(value)) return `must match ${parameter.pattern}`;
  }
  return undefined;
}

// Parameter patterns are written by operators but matched against values any pod author
// chooses, so they run on RE2JS, a JavaScript port of RE2 whose matching time is linear in the
// value (https://github.com/google/re2/wiki/WhyRE2): a pattern such as ^([a-z0-9]+-?)*[a-z0-9]$,
// which blocks V8's backtracking engine for seconds on a 30-character value, costs
// microseconds here. RE2 has no backreferences or lookaround; a pattern using them is refused
// when its template loads (patternProblem), so what loads is what runs.

/** Patterns come from a handful of templates: compile each once, not once per review. */
const patterns = new Map<string, RE2JS>();

export function compilePattern(pattern: string): RE2JS {
  let re = patterns.get(pattern);
  if (re === undefined) {
    re = RE2JS.compile(pattern);
    patterns.set(pattern, re);
  }
  return re;
}

/** Why a pattern cannot be used, or undefined when it compiles on the linear-time engine. */
export function patternProblem(pattern: string): string | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (error) {
    return `not a regular expression podpattern can run in linear time (${(error as Error).message}); backreferences and lookaround are not supported`;
  }
}
