// A template's values (containers, volumes, files, annotations) as CEL expressions that build
// the same JSON the webhook's renderer builds. Placeholders are compiled structurally: a string
// becomes a concatenation of quoted literals and references to computed values, so a template's
// text or a pod's annotation can only ever be data. The substitution rules (typed fields,
// Kubernetes' $(VAR) expansion in command, args and env values) are the webhook's own.
import type { CompiledValue, Template } from '../model/template.js';
import { compileValue as compileTemplateValue } from '../template/compile.js';
import { TYPED_FIELDS, childMode, type Mode } from '../template/fields.js';
import { PLACEHOLDER, POD_NAME, POD_NAMESPACE, type Ref } from '../template/placeholders.js';
import { concat, escapeDollars, list, map, scalar, type Part } from './cel.js';
import { parameterVariable } from './params.js';

/** `$(pod.name)`: the pod's name, else its generateName prefix, as the webhook reads it. */
export const POD_NAME_CEL =
  '(has(object.metadata.name) && object.metadata.name != "") ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName : "")';
/** `$(pod.namespace)`: the pod's namespace, else the request's (pods arrive without one). */
export const POD_NAMESPACE_CEL =
  '(has(object.metadata.namespace) && object.metadata.namespace != "") ? object.metadata.namespace : request.namespace';

/** What compiling a value needs: the template, whose parameters' types decide typed fields. */
export interface Scope {
  template: Template;
}

/** The CEL expression of a reference's text form, or its typed value. */
function reference(ref: Ref, typed: boolean): string {
  if (ref === POD_NAME) return POD_NAME_CEL;
  if (ref === POD_NAMESPACE) return POD_NAMESPACE_CEL;
  // Number parameters never get here: refuse.ts refuses them (CEL prints doubles its own way).
  return `variables.${parameterVariable(ref, typed ? 'param' : 'text')}`;
}

/** A CEL expression building `value` as the webhook renders it (modes as in template/fields). */
export function compileValue(value: unknown, scope: Scope, mode: Mode = 'plain', typed = false): string {
  return celOf(compileTemplateValue(value, mode, typed), scope);
}

/** A CEL expression building a compiled value: literals quoted, placeholders as references to computed values. */
function celOf(value: CompiledValue, scope: Scope): string {
  switch (value.kind) {
    case 'fixed':
      return scalar(value.value);
    case 'typed': {
      const expression = reference(value.ref, true);
      const isString =
        value.ref === POD_NAME || value.ref === POD_NAMESPACE || scope.template.spec.parameters[value.ref]?.type === 'string';
      return isString && value.expanded ? escapeDollars(expression) : expression;
    }
    case 'text': {
      const parts: Part[] = [{ text: value.texts[0] as string }];
      value.refs.forEach((ref, i) => {
        const expression = reference(ref, false);
        parts.push({ expression: value.expanded ? escapeDollars(expression) : expression }, { text: value.texts[i + 1] as string });
      });
      return concat(parts);
    }
    case 'list':
      return list(value.items.map((item) => celOf(item, scope)));
    case 'object':
      return map(value.keys.map((key, i) => [key, celOf(value.values[i] as CompiledValue, scope)]));
  }
}

/**
 * Fields of core/v1 objects that are maps (string keys, free values) rather than structs: the
 * API server's CEL types every other object by its path (`Object.spec.containers.ports`).
 */
const MAP_FIELDS = new Set(['limits', 'requests', 'nodeSelector', 'volumeAttributes', 'options', 'labels', 'annotations']);

/**
 * `value` as a typed object of the API server's CEL (`Object.spec.volumes{name: …}`): the
 * mutating policy's type checker wants every object literal typed by its place in the schema,
 * and every map literal's values of one type.
 */
export function compileTyped(value: unknown, type: string, scope: Scope, mode: Mode = 'plain', typed = false): string {
  if (Array.isArray(value)) return list(value.map((item) => compileTyped(item, type, scope, mode)));
  if (value === null || typeof value !== 'object') return compileValue(value, scope, mode, typed);
  const fields = Object.entries(value).map(([key, item]) => {
    // A field name is written as it is (CEL has no quoted field names): refuse.ts refuses a
    // template with any other, and this stops one that got past it.
    if (!isIdentifier(key)) throw new Error(`${JSON.stringify(key)} is not a CEL identifier`);
    const child = childMode(mode, key);
    if (MAP_FIELDS.has(key)) return `${key}: ${compileValue(item, scope, child)}`;
    return `${key}: ${compileTyped(item, `${type}.${key}`, scope, child, TYPED_FIELDS.has(key))}`;
  });
  return `${type}{${fields.join(', ')}}`;
}

/**
 * CEL's identifiers, less its reserved words (CEL language definition, "Syntax"): the only
 * field names a typed object literal can hold. Every Kubernetes field name is one.
 */
const IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const RESERVED = new Set([
  'true',
  'false',
  'null',
  'in',
  'as',
  'break',
  'const',
  'continue',
  'else',
  'for',
  'function',
  'if',
  'import',
  'let',
  'loop',
  'package',
  'namespace',
  'return',
  'var',
  'void',
  'while',
]);

function isIdentifier(key: string): boolean {
  return IDENTIFIER.test(key) && !RESERVED.has(key);
}

/**
 * The keys of `value` that compileTyped would write as field names and cannot (each with its
 * path under `path`); the maps it quotes (MAP_FIELDS) are not looked into.
 */
export function unsafeFieldNames(value: unknown, path: string, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item, i) => unsafeFieldNames(item, `${path}[${i}]`, found));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (!isIdentifier(key)) found.push(`${path}: the key ${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}`);
      else if (!MAP_FIELDS.has(key)) unsafeFieldNames(item, `${path}.${key}`, found);
    }
  }
  return found;
}

/** True when the string holds one of our placeholders (names must be fixed to be compiled). */
export function hasPlaceholder(text: string): boolean {
  return text.match(PLACEHOLDER) !== null;
}
