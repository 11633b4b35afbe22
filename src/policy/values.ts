// A template's values (containers, volumes, files, annotations) as CEL expressions that build
// the same JSON the webhook's renderer builds. Placeholders are compiled structurally: a string
// becomes a concatenation of quoted literals and references to computed values, so a template's
// text or a pod's annotation can only ever be data. The substitution rules (typed fields,
// Kubernetes' $(VAR) expansion in command, args and env values) are the webhook's own.
import { PLACEHOLDER, WHOLE_PLACEHOLDER } from '../catalog/placeholders.js';
import type { Template } from '../catalog/types.js';
import { TYPED_FIELDS, childMode, type Mode } from '../engine/render.js';
import { concat, escapeDollars, list, map, scalar, type Part } from './cel.js';
import { parameterVariable } from './params.js';

/** `$(pod.name)`: the pod's name, else its generateName prefix, as the webhook reads it. */
export const POD_NAME =
  '(has(object.metadata.name) && object.metadata.name != "") ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName : "")';
/** `$(pod.namespace)`: the pod's namespace, else the request's (pods arrive without one). */
export const POD_NAMESPACE = '(has(object.metadata.namespace) && object.metadata.namespace != "") ? object.metadata.namespace : request.namespace';

/** What compiling a value needs: the template (for parameter types) and where refusals go. */
export interface Scope {
  template: Template;
  refusals: string[];
}

/** The CEL expression of a reference's text form, or its typed value. */
function reference(ref: string, typed: boolean, scope: Scope, where: string): string {
  if (ref === 'pod.name') return POD_NAME;
  if (ref === 'pod.namespace') return POD_NAMESPACE;
  const name = ref.slice('params.'.length);
  const parameter = scope.template.spec.parameters[name];
  if (parameter?.type === 'number') {
    scope.refusals.push(`${where}: parameter ${name} is a number; CEL writes doubles differently from the webhook (1e21, 0.1 + 0.2), so the pods would differ`);
  }
  return `variables.${parameterVariable(name)}${typed ? '' : '_text'}`;
}

/** The parts of a template string: literal text and references, one pass like the webhook's. */
export function stringParts(text: string, expanded: boolean, scope: Scope, where: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    parts.push({ text: text.slice(last, match.index) });
    const expression = reference(match[1] as string, false, scope, where);
    parts.push({ expression: expanded ? escapeDollars(expression) : expression });
    last = (match.index as number) + match[0].length;
  }
  parts.push({ text: text.slice(last) });
  return parts;
}

/** A CEL expression building `value` as the webhook renders it (modes as in engine/render). */
export function compileValue(value: unknown, scope: Scope, where: string, mode: Mode = 'plain', typed = false): string {
  if (typeof value === 'string') return compileString(value, scope, where, mode === 'expanded', typed);
  if (Array.isArray(value)) return list(value.map((item, i) => compileValue(item, scope, `${where}[${i}]`, mode)));
  if (value !== null && typeof value === 'object') {
    return map(Object.entries(value).map(([key, item]) => [key, compileValue(item, scope, `${where}.${key}`, childMode(mode, key), TYPED_FIELDS.has(key))]));
  }
  return scalar(value as number | boolean | null);
}

function compileString(text: string, scope: Scope, where: string, expanded: boolean, typed: boolean): string {
  const whole = typed ? WHOLE_PLACEHOLDER.exec(text) : null;
  if (whole !== null) {
    const ref = whole[1] as string;
    const expression = reference(ref, true, scope, where);
    const isString = !ref.startsWith('params.') || scope.template.spec.parameters[ref.slice('params.'.length)]?.type === 'string';
    return isString && expanded ? escapeDollars(expression) : expression;
  }
  return concat(stringParts(text, expanded, scope, where));
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
export function compileTyped(value: unknown, type: string, scope: Scope, where: string, mode: Mode = 'plain', typed = false): string {
  if (Array.isArray(value)) return list(value.map((item, i) => compileTyped(item, type, scope, `${where}[${i}]`, mode)));
  if (value === null || typeof value !== 'object') return compileValue(value, scope, where, mode, typed);
  const fields = Object.entries(value).map(([key, item]) => {
    const child = childMode(mode, key);
    if (MAP_FIELDS.has(key)) return `${key}: ${compileValue(item, scope, `${where}.${key}`, child)}`;
    return `${key}: ${compileTyped(item, `${type}.${key}`, scope, `${where}.${key}`, child, TYPED_FIELDS.has(key))}`;
  });
  return `${type}{${fields.join(', ')}}`;
}

/** True when the string holds one of our placeholders (names must be fixed to be compiled). */
export function hasPlaceholder(text: string): boolean {
  return text.match(PLACEHOLDER) !== null;
}
