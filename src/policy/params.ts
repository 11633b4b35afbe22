// Parameters in CEL: where each value comes from (the pod's annotation, else the default), its
// typed and text forms, and the checks the webhook makes on it, as CEL that yields the same
// messages. Every key, default and bound is written as a quoted literal.
import { DEFAULT_MAX_LENGTH } from '../template/parameter-value.js';
import type { ParameterSpec, Template } from '../model/template.js';
import { parameterKey } from '../model/keys.js';
import { article, describeParameter } from '../engine/params.js';
import { concat, jsonEscape, list, quote, scalar } from './cel.js';

/** `variables.anns`: the pod's annotations, or an empty map. */
export const ANNS = 'variables.anns';
export const ANNS_VARIABLE = { name: 'anns', expression: 'has(object.metadata.annotations) ? object.metadata.annotations : {}' };

export interface Variable {
  name: string;
  expression: string;
}

/**
 * Where a parameter's annotation text comes from. Each function gets the quoted annotation key
 * and the parameter's name, and returns CEL: `present` a boolean, `raw` the text (where present).
 */
export interface ParameterSource {
  present(key: string, name: string): string;
  raw(key: string, name: string): string;
}

/** The pod's own annotations: what a pod that asks for a template sets. */
export const POD_ANNOTATIONS: ParameterSource = {
  present: (key) => `${key} in ${ANNS}`,
  raw: (key) => `${ANNS}[${key}]`,
};

/** How a template's parameters are read and checked: from where, and whether a PatternPolicy's narrowing applies (`variables.narrowing`). */
export interface ParameterOptions {
  source?: ParameterSource;
  narrow?: boolean;
}

/**
 * The CEL identifier of one form of a parameter: `param_x` its typed value, `text_x` its text as
 * the webhook prints it, `raw_x` the annotation text, `fault_x` what is wrong with it. The form
 * is a prefix because a parameter name has dashes and no underscores, so no two names or forms
 * meet (as `a` with suffix `_text` and a parameter named `a-text` would).
 */
export function parameterVariable(name: string, form: 'param' | 'text' | 'raw' | 'fault' = 'param'): string {
  return `${form}_${name.replaceAll('-', '_')}`;
}

/** Annotation value text: what the webhook's integer and boolean conversions accept. */
const TYPE_PATTERNS: Partial<Record<ParameterSpec['type'], string>> = {
  integer: '^-?[0-9]{1,15}$',
  boolean: '^(true|false)$',
};

/** Per parameter: `param_x` (typed: int, bool or string) and `text_x` (as the webhook prints it). */
export function parameterVariables(template: Template, source: ParameterSource = POD_ANNOTATIONS): Variable[] {
  const out: Variable[] = [];
  for (const [name, parameter] of Object.entries(template.spec.parameters)) {
    const key = quote(parameterKey(template.name, name));
    const raw = source.raw(key, name);
    const present = source.present(key, name);
    const typed = parameter.type === 'integer' ? `int(${raw})` : parameter.type === 'boolean' ? `${raw} == "true"` : raw;
    const text = parameter.type === 'integer' ? `string(int(${raw}))` : raw;
    const fallback = parameter.default;
    out.push({ name: parameterVariable(name), expression: `${present} ? ${typed} : ${fallback === undefined ? '""' : scalar(fallback)}` });
    out.push({
      name: parameterVariable(name, 'text'),
      expression: `${present} ? ${text} : ${quote(fallback === undefined ? '' : String(fallback))}`,
    });
  }
  return out;
}

/**
 * Per parameter, `raw_x`: its annotation text where present, else "". Every check reads
 * the text several times; reading it through one variable keeps each expression short (the API
 * server refuses one over 100,000 code points) and lets CEL evaluate it once.
 */
export function rawVariables(template: Template, source: ParameterSource): { variables: Variable[]; source: ParameterSource } {
  const variables = Object.keys(template.spec.parameters).map((name) => {
    const key = quote(parameterKey(template.name, name));
    return { name: parameterVariable(name, 'raw'), expression: `${source.present(key, name)} ? ${source.raw(key, name)} : ""` };
  });
  return {
    variables,
    source: { present: (key, name) => source.present(key, name), raw: (_key, name) => `variables.${parameterVariable(name, 'raw')}` },
  };
}

/**
 * Per parameter, `fault_x`: why its value breaks the template's bounds (or the namespace's
 * narrowing), in the webhook's words, or "" (also when it is not set). The problem list tests it
 * and prints it, so it is written once.
 */
export function faultVariables(template: Template, options: ParameterOptions = {}): Variable[] {
  const source = options.source ?? POD_ANNOTATIONS;
  return Object.entries(template.spec.parameters).map(([name, parameter]) => {
    const key = quote(parameterKey(template.name, name));
    const message = faultMessage(source.raw(key, name), name, parameter, options.narrow === true);
    return { name: parameterVariable(name, 'fault'), expression: `${source.present(key, name)} ? (${message}) : ""` };
  });
}

/**
 * CEL list expressions of problem messages for the template's parameters, in the webhook's
 * order: unknown parameter annotations first, then each declared parameter in turn. They read
 * the `fault_x` variables of {@link faultVariables}.
 */
export function parameterProblems(template: Template, options: ParameterOptions = {}): string[] {
  const declared = Object.keys(template.spec.parameters);
  const prefix = parameterKey(template.name, '');
  const known = declared.length === 0 ? 'it takes no parameters' : `its parameters are ${declared.join(', ')}`;
  const unknown =
    `${ANNS}.filter(k, k.startsWith(${quote(prefix)}) && !k.substring(${prefix.length}).startsWith("file.") && !(k.substring(${prefix.length}) in ${list(declared.map(quote))}))` +
    `.map(k, k + ${quote(`: template ${template.name} has no parameter '`)} + k.substring(${prefix.length}) + ${quote(`'; ${known}`)})`;
  const problems = [unknown];
  for (const [name, parameter] of Object.entries(template.spec.parameters))
    problems.push(checkParameter(template, name, parameter, options));
  return problems;
}

function checkParameter(template: Template, name: string, parameter: ParameterSpec, options: ParameterOptions): string {
  const keyText = parameterKey(template.name, name);
  const key = quote(keyText);
  const source = options.source ?? POD_ANNOTATIONS;
  const raw = source.raw(key, name);
  const missing =
    parameter.required === true && parameter.default === undefined
      ? `[${quote(`${keyText} is required: ${describeParameter(parameter)}`)}]`
      : options.narrow === true && parameter.default !== undefined
        ? narrowedDefault(keyText, name, parameter)
        : '[]';
  // As the webhook shows a value (engine/bounds.ts printable): control characters as \u{hex},
  // so no line break reaches the message, and cut at 64 code points. Only these three are mapped:
  // CEL has no regular-expression replace, so other control characters are shown as they are
  // (the pod is denied either way; docs/policy.md lists this difference).
  const printable = `(${raw}).split("\\n").join("\\\\u{a}").split("\\r").join("\\\\u{d}").split("\\t").join("\\\\u{9}")`;
  const shown = `(size(${printable}) > 64 ? ${printable}.substring(0, 64) + "…" : ${printable})`;
  const fault = `variables.${parameterVariable(name, 'fault')}`;
  return `!(${source.present(key, name)}) ? ${missing} : (${fault} == "" ? [] : [${concat([{ text: `${keyText}: '` }, { expression: shown }, { text: "' " }])} + ${fault}])`;
}

/** A CEL string: the first of the webhook's faults that the parameter's text `raw` has, or "". */
function faultMessage(raw: string, name: string, parameter: ParameterSpec, narrow: boolean): string {
  // The faults in the webhook's order; the first that applies is the message.
  const faults: [string, string][] = [];
  const typePattern = TYPE_PATTERNS[parameter.type];
  if (typePattern !== undefined) faults.push([`!${raw}.matches(${quote(typePattern)})`, `must be ${article(parameter.type)}`]);
  const value = parameter.type === 'integer' ? `int(${raw})` : parameter.type === 'boolean' ? `(${raw} == "true")` : raw;
  if (parameter.enum !== undefined)
    faults.push([
      `!(${value} in ${list(parameter.enum.map(scalar))})`,
      `must be one of ${parameter.enum.map((v) => JSON.stringify(v)).join(', ')}`,
    ]);
  if (parameter.type === 'integer') {
    if (parameter.minimum !== undefined) faults.push([`${value} < ${parameter.minimum}`, `must be at least ${parameter.minimum}`]);
    if (parameter.maximum !== undefined) faults.push([`${value} > ${parameter.maximum}`, `must be at most ${parameter.maximum}`]);
  }
  if (parameter.type === 'string') {
    const maxLength = parameter.maxLength ?? DEFAULT_MAX_LENGTH;
    faults.push([`size(${raw}) > ${maxLength}`, `must be at most ${maxLength} characters long (got `]);
    faults.push([`${raw}.matches("[\\\\x00-\\\\x1f\\\\x7f]")`, 'must not contain control characters such as newlines or tabs']);
    if (parameter.pattern !== undefined) faults.push([`!${raw}.matches(${quote(parameter.pattern)})`, `must match ${parameter.pattern}`]);
  }
  // The policy's narrowing is checked once the template's own bounds hold, as the webhook does.
  let message = narrow ? narrowFault(name, parameter, value) : '""';
  for (const [condition, text] of [...faults].reverse()) {
    const rendered = text.endsWith('(got ') ? concat([{ text }, { expression: `string(size(${raw}))` }, { text: ')' }]) : quote(text);
    message = `${condition} ? ${rendered} : ${message}`;
  }
  return message;
}

/** `variables.narrowing`: the PatternPolicy's bounds on this template's parameters, as a list of none or one map. */
export const NARROWING = 'variables.narrowing';

/** The policy named in a narrowing's messages: the request's namespace's `default` PatternPolicy. */
export const POLICY_SHOWN = `"PatternPolicy " + request.namespace + "/default"`;

/**
 * A CEL string: why `value` (typed) is outside the narrowed bounds of the parameter, or "", in
 * the webhook's order and words (engine/policy.ts boundsFault): enum, then a number's minimum
 * and maximum, or a string's pattern. `variables.narrowing` holds none or one map of bounds.
 */
function narrowFault(name: string, parameter: ParameterSpec, value: string): string {
  // The bounds are an iteration variable: has() takes a field of a name, not of an index.
  const bounds = 'bounds';
  const faults: [string, string][] = [
    [`has(${bounds}.enum) && !(${value} in ${bounds}.enum)`, `"must be one of " + ${bounds}.enum.map(v, ${jsonText('v')}).join(", ")`],
  ];
  if (parameter.type === 'integer') {
    faults.push([
      `has(${bounds}.minimum) && double(${value}) < double(${bounds}.minimum)`,
      `"must be at least " + string(${bounds}.minimum)`,
    ]);
    faults.push([
      `has(${bounds}.maximum) && double(${value}) > double(${bounds}.maximum)`,
      `"must be at most " + string(${bounds}.maximum)`,
    ]);
  }
  if (parameter.type === 'string')
    faults.push([`has(${bounds}.pattern) && !${value}.matches(${bounds}.pattern)`, `"must match " + ${bounds}.pattern`]);
  let fault = '""';
  for (const [condition, text] of [...faults].reverse())
    fault = `${condition} ? ${text} + " (narrowed by " + ${POLICY_SHOWN} + ")" : ${fault}`;
  return `${NARROWING}.filter(n, ${quote(name)} in n).map(n, n[${quote(name)}]).map(${bounds}, ${fault}).join("")`;
}

/** A policy's enum value as JSON.stringify prints it: a string quoted, any other scalar as it is. */
export function jsonText(value: string): string {
  return `(type(${value}) == string ? "\\"" + ${jsonEscape(value)} + "\\"" : string(${value}))`;
}

/** The webhook's refusal of a template default outside the narrowed bounds, as a CEL list of none or one message. */
function narrowedDefault(keyText: string, name: string, parameter: ParameterSpec): string {
  const fallback = parameter.default as string | number | boolean;
  const fault = narrowFault(name, parameter, scalar(fallback));
  const message = concat([
    { text: `${keyText}: the template's default ${JSON.stringify(fallback)} ` },
    { expression: fault },
    { text: '; set a value within the bounds' },
  ]);
  return `(${fault} == "" ? [] : [${message}])`;
}
