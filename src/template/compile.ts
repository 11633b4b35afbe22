// A template compiled once, when it is accepted (built-in and --catalog-dir templates at load,
// cluster templates when the catalog takes them, /validate-template on what it is sent): where
// its placeholders are, the parameter behind every listener and port, its files' keys and
// volume, its compiled patterns. The result is frozen and kept on the template; rendering a pod
// only fills values in, and the policy compiler writes CEL from the same parts.
import type { RE2JS } from 're2js';
import type { CompiledListener, CompiledTemplate, CompiledValue, ParameterSpec, ParameterValue, TemplateSpec } from '../model/template.js';
import { fileKey, filesVolumeName } from '../model/keys.js';
import { TYPED_FIELDS, childMode, type Mode } from './fields.js';
import { loopbackListeners } from './listeners.js';
import { compilePattern } from './parameter-value.js';
import { splitPlaceholders, wholeParameter, wholeRef } from './placeholders.js';

export type Compiled = { ok: true; compiled: CompiledTemplate } | { ok: false; problems: string[] };

/**
 * Compiles a template that has passed validation. `patterns` are the patterns validation
 * already compiled, by parameter name; any other is compiled here. What cannot be compiled is
 * returned as problems, for the catalog to refuse the template with.
 */
export function compileTemplate(name: string, spec: TemplateSpec, patterns: ReadonlyMap<string, RE2JS> = new Map()): Compiled {
  const problems: string[] = [];
  const compiledPatterns: Record<string, RE2JS> = {};
  for (const [parameterName, parameter] of Object.entries(spec.parameters)) {
    if (parameter.pattern === undefined) continue;
    const re = patterns.get(parameterName) ?? compilePattern(parameter as ParameterSpec & { pattern: string });
    if (typeof re === 'string') problems.push(`spec.parameters.${parameterName}.pattern: ${re}`);
    else compiledPatterns[parameterName] = re;
  }
  const listeners = compileListeners(spec, problems);
  if (problems.length > 0) return { ok: false, problems };
  const { containers, initContainers, volumes, files, app, podAnnotations } = spec;
  const body = compileValue({ containers, initContainers, volumes, files, app, podAnnotations });
  const compiled: CompiledTemplate = {
    body,
    fill: fillOf(body),
    files: filesOf(name, Object.keys(files)),
    listeners,
    portParameters: portParametersOf(spec),
    patterns: Object.freeze(compiledPatterns),
  };
  return { ok: true, compiled: deepFreeze(compiled, compiled.patterns) };
}

/** One value of a template, compiled: the same value, its strings split at their placeholders. */
export function compileValue(value: unknown, mode: Mode = 'plain', typed = false): CompiledValue {
  if (typeof value === 'string') return compileString(value, mode === 'expanded', typed);
  if (Array.isArray(value)) return { kind: 'list', items: value.map((item) => compileValue(item, mode)) };
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    return {
      kind: 'object',
      keys,
      values: keys.map((key) => compileValue((value as Record<string, unknown>)[key], childMode(mode, key), TYPED_FIELDS.has(key))),
    };
  }
  return { kind: 'fixed', value: value as number | boolean | null };
}

/** One pass: substituted text is never re-scanned. In a typed field a string that is exactly one placeholder takes the value's type. */
function compileString(text: string, expanded: boolean, typed: boolean): CompiledValue {
  if (!text.includes('$(')) return { kind: 'fixed', value: text };
  const ref = typed ? wholeRef(text) : undefined;
  if (ref !== undefined) return { kind: 'typed', ref, expanded };
  const { texts, refs } = splitPlaceholders(text);
  return refs.length === 0 ? { kind: 'fixed', value: text } : { kind: 'text', texts, refs, expanded };
}

type Lookup = (ref: string) => ParameterValue;
type Fill = (lookup: Lookup) => unknown;

/**
 * A function building `value` for one pod. Built once per template, from the compiled value, so
 * a render only makes the copy and fills the placeholders in. (An interpreter walking the
 * compiled value for every pod took 3.5 times as long on Node 24.)
 */
export function fillOf(value: CompiledValue): Fill {
  switch (value.kind) {
    case 'fixed': {
      const fixed = value.value;
      return () => fixed;
    }
    case 'typed': {
      const { ref, expanded } = value;
      return (lookup) => {
        const typed = lookup(ref);
        return typeof typed === 'string' ? escape(typed, expanded) : typed;
      };
    }
    case 'text': {
      const { texts, refs, expanded } = value;
      return (lookup) => {
        let out = texts[0] as string;
        for (let i = 0; i < refs.length; i += 1) out += escape(String(lookup(refs[i] as string)), expanded) + (texts[i + 1] as string);
        return out;
      };
    }
    case 'list': {
      const items = value.items.map(fillOf);
      return (lookup) => items.map((fill) => fill(lookup));
    }
    case 'object': {
      const { keys } = value;
      const fills = value.values.map(fillOf);
      return (lookup) => {
        const out: Record<string, unknown> = {};
        for (let i = 0; i < keys.length; i += 1) out[keys[i] as string] = (fills[i] as Fill)(lookup);
        return out;
      };
    }
  }
}

// Kubernetes expands $(VAR) in command, args and env values, with $$ as the escape for a
// literal $ (Kubernetes docs, "Define dependent environment variables"): a value placed there
// must not reach another variable, so its $ are doubled.
function escape(text: string, expanded: boolean): string {
  return expanded && text.includes('$') ? text.replaceAll('$', '$$$$') : text;
}

/** The listeners on loopback only, each with its fixed port or the integer parameter that sets it. */
function compileListeners(spec: TemplateSpec, problems: string[]): CompiledListener[] {
  return loopbackListeners(spec).flatMap(({ port, where }): CompiledListener[] => {
    const parameter = wholeParameter(port);
    if (parameter === undefined) return [{ port: Number(port), where }];
    const type = Object.hasOwn(spec.parameters, parameter) ? spec.parameters[parameter]?.type : undefined;
    if (type !== 'integer') {
      problems.push(
        `${where}: listens on loopback at the port $(params.${parameter}), which ${type === undefined ? 'is not a declared parameter' : `is a ${type} parameter`}; a port is set by an integer parameter`,
      );
      return [];
    }
    return [{ parameter, where }];
  });
}

/** By container name, the parameter whose value each of its ports is (its containerPort is exactly `$(params.NAME)`). */
function portParametersOf(spec: TemplateSpec): Record<string, (string | undefined)[]> {
  const out: Record<string, (string | undefined)[]> = {};
  for (const container of [...spec.containers, ...spec.initContainers]) {
    out[container.name] = (container.ports ?? []).map((port) => wholeParameter(port.containerPort));
  }
  return out;
}

/** What the annotations and the volume of a template's files are spelled with: the same for every pod. */
export function filesOf(template: string, names: string[]): CompiledTemplate['files'] {
  const keys = names.map((file) => fileKey(template, file));
  const items = names
    .map((file, i) => ({ path: file, fieldPath: `metadata.annotations['${keys[i]}']` }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { names, keys, volume: filesVolumeName(template), items };
}

/** Freezes `value` and everything in it, except what `keep` holds (compiled patterns are the engine's own objects). */
function deepFreeze<T>(value: T, keep: object): T {
  if (value === null || typeof value !== 'object' || value === keep) return value;
  for (const item of Object.values(value)) deepFreeze(item, keep);
  return Object.freeze(value);
}
