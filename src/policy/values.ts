// A template's values (containers, volumes, files, annotations) as CEL expressions that build
// the same JSON the webhook's renderer builds. Placeholders are compiled structurally: a string
// becomes a concatenation of quoted literals and references to computed values, so a template's
// text or a pod's annotation can only ever be data. The substitution rules (typed fields,
// Kubernetes' $(VAR) expansion in command, args and env values) are the webhook's own.
import { PLACEHOLDER, WHOLE_PLACEHOLDER } from '../catalog/placeholders.js';
import type { Template } from '../model/template.js';
import { TYPED_FIELDS, childMode, type Mode } from '../engine/render.js';
import { concat, escapeDollars, list, map, scalar, type Part } from './cel.js';
import { parameterVariable } from './params.js';

/** `$(pod.name)`: the pod's name, else its generateName prefix, as the webhook reads it. */
export const POD_NAME =
  '(has(object.metadata.name) && object.metadata.name != "") ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName : "")';
/** `$(pod.namespace)`: the pod's namespace, else the request's (pods arrive without one). */
export const POD_NAMESPACE = '(has(object.metadata.namespace) && object.metadata.namespace != "") ? object.metadata.namespace : request.namespace';

/** What compiling a value needs: the template, whose parameters' types decide typed fields. */
export interface Scope {
  template: Template;
}

/** The CEL expression of a reference's text form, or its typed value. */
function reference(ref: string, typed: boolean): string {
  if (ref === 'pod.name') return POD_NAME;
  if (ref === 'pod.namespace') return POD_NAMESPACE;
  // Number parameters never get here: refuse.ts refuses them (CEL prints doubles its own way).
  const name = ref.slice('params.'.length);
  return `variables.${parameterVariable(name)}${typed ? '' : '_text'}`;
}

/** The parts of a template string: literal text and references, one pass like the webhook's. */
export function stringParts(text: string, expanded: boolean): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    parts.push({ text: text.slice(last, match.index) });
    const expression = reference(match[1] as string, false);
    parts.push({ expression: expanded ? escapeDollars(expression) : expression });
    last = match.index + match[0].length;
  }
  parts.push({ text: text.slice(last) });
  return parts;
}

/** A CEL expression building `value` as the webhook renders it (modes as in engine/render). */
export function compileValue(value: unknown, scope: Scope, mode: Mode = 'plain', typed = false): string {
  if (typeof value === 'string') return compileString(value, scope, mode === 'expanded', typed);
  if (Array.isArray(value)) return list(value.map((item) => compileValue(item, scope, mode)));
  if (value !== null && typeof value === 'object') {
    return map(Object.entries(value).map(([key, item]) => [key, compileValue(item, scope, childMode(mode, key), TYPED_FIELDS.has(key))]));
  }
  return scalar(value as number | boolean | null);
}

function compileString(text: string, scope: Scope, expanded: boolean, typed: boolean): string {
  const whole = typed ? WHOLE_PLACEHOLDER.exec(text) : null;
  if (whole !== null) {
    const ref = whole[1] as string;
    const expression = reference(ref, true);
    const isString = !ref.startsWith('params.') || scope.template.spec.parameters[ref.slice('params.'.length)]?.type === 'string';
    return isString && expanded ? escapeDollars(expression) : expression;
  }
  return concat(stringParts(text, expanded));
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
const RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);

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
