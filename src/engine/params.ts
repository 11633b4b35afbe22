// Turns a template's parameter annotations (strings, hostile) into typed values that fit the
// template's schema, or into problems that say how to fix each one.
import { checkParameterValue } from '../template/parameter-value.js';
import type { ParameterSpec, ParameterValue, Template } from '../model/template.js';
import { parameterKey } from '../model/keys.js';
import { MAX_PROBLEMS, printable } from './bounds.js';
import type { Problem } from './types.js';
import { didYouMean } from './suggest.js';
import { isSizingParameter, resolveSizing } from './sizing.js';
import { narrowFault, type Narrowing } from './policy.js';

export type Values = Map<string, ParameterValue>;

/** `narrowing`: tighter bounds from the namespace's PatternPolicy, checked on every value in force, defaults included. */
export function resolveParameters(
  template: Template,
  raw: Map<string, string> | undefined,
  narrowing?: Narrowing,
): { values: Values; problems: Problem[] } {
  const values: Values = new Map();
  const problems: Problem[] = [];
  const declared = template.spec.parameters;
  let unknown = 0;
  for (const name of raw?.keys() ?? []) {
    // Own properties only: 'constructor' or 'toString' must not pass for a declared parameter.
    if (Object.hasOwn(declared, name) || isSizingParameter(name)) continue;
    unknown += 1;
    if (unknown > MAX_PROBLEMS) continue; // counted below; a denial lists no more than this anyway
    const known = Object.keys(declared);
    problems.push({
      code: 'unknown-parameter',
      template: template.name,
      message: `${parameterKey(template.name, printable(name))}: template ${template.name} has no parameter '${printable(name)}'${didYouMean(name.slice(0, 128), known)}; ${known.length === 0 ? 'it takes no parameters' : `its parameters are ${known.join(', ')}`}`,
    });
  }
  if (unknown > MAX_PROBLEMS) {
    problems.push({
      code: 'unknown-parameter',
      template: template.name,
      message: `${unknown - MAX_PROBLEMS} more annotations name parameters template ${template.name} does not have`,
      count: unknown - MAX_PROBLEMS,
    });
  }
  for (const name in declared) {
    const parameter = declared[name] as ParameterSpec;
    const text = raw?.get(name);
    if (text === undefined) {
      const problem = useDefault(template, name, values, narrowing);
      if (problem !== undefined) problems.push(problem);
      continue;
    }
    const typed = convert(parameter, text);
    const fault =
      typed === undefined
        ? `must be ${article(parameter.type)}`
        : (checkParameterValue(parameter, typed, template.compiled.patterns[name]) ??
          (narrowing === undefined ? undefined : narrowFault(narrowing, name, typed)));
    if (fault !== undefined || typed === undefined) {
      problems.push({
        code: 'invalid-parameter',
        template: template.name,
        message: `${parameterKey(template.name, name)}: '${printable(text)}' ${fault}`,
      });
      continue;
    }
    values.set(name, typed);
  }
  resolveSizing(template, raw, values, problems);
  return { values, problems };
}

/** A parameter the pod does not set: its default into `values`, or why there is none it may have. */
function useDefault(template: Template, name: string, values: Values, narrowing: Narrowing | undefined): Problem | undefined {
  const parameter = template.spec.parameters[name] as ParameterSpec;
  if (parameter.default === undefined) {
    return parameter.required === true
      ? {
          code: 'missing-parameter',
          template: template.name,
          message: `${parameterKey(template.name, name)} is required: ${describeParameter(parameter)}`,
        }
      : undefined;
  }
  const narrowed = narrowing === undefined ? undefined : narrowFault(narrowing, name, parameter.default);
  if (narrowed !== undefined)
    return {
      code: 'invalid-parameter',
      template: template.name,
      message: `${parameterKey(template.name, name)}: the template's default ${JSON.stringify(parameter.default)} ${narrowed}; set a value within the bounds`,
    };
  values.set(name, parameter.default);
  return undefined;
}

/** Annotation values are strings; the parameter's type decides how to read them. */
function convert(parameter: ParameterSpec, text: string): ParameterValue | undefined {
  switch (parameter.type) {
    case 'string':
      return text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : undefined;
    case 'integer':
      return /^-?\d{1,15}$/.test(text) ? Number(text) : undefined;
    case 'number':
      return /^-?\d{1,15}(\.\d{1,15})?$/.test(text) ? Number(text) : undefined;
  }
}

export function article(type: ParameterSpec['type']): string {
  return type === 'integer' ? 'a whole number' : type === 'boolean' ? '"true" or "false"' : type === 'number' ? 'a number' : 'a string';
}

export function describeParameter(parameter: ParameterSpec): string {
  const bounds: string[] = [];
  if (parameter.enum !== undefined) bounds.push(`one of ${parameter.enum.join(', ')}`);
  if (parameter.pattern !== undefined) bounds.push(`matching ${parameter.pattern}`);
  if (parameter.minimum !== undefined) bounds.push(`at least ${parameter.minimum}`);
  if (parameter.maximum !== undefined) bounds.push(`at most ${parameter.maximum}`);
  const what = parameter.description ?? `a ${parameter.type}`;
  return bounds.length === 0 ? what : `${what} (${bounds.join(', ')})`;
}
