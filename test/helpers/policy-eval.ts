// A compiled template's ValidatingAdmissionPolicy evaluated for one pod with @marcbachmann/cel-js
// (a CEL implementation in JavaScript; the API server runs cel-go on the same expressions).
// Each template is compiled once and each expression parsed once, as the property tests judge the
// same few templates hundreds of times (compiling one builds all its policies).
import { parse, type ParseResult } from '@marcbachmann/cel-js';
import type { PodLike } from '../../src/engine/index.js';
import { compileTemplate } from '../../src/policy/index.js';
import type { Template } from '../../src/model/template.js';

const programs = new Map<string, ParseResult>();

/** An expression evaluated, parsed once. */
export function evaluate(expression: string, context: Record<string, unknown>): unknown {
  let program = programs.get(expression);
  if (program === undefined) {
    program = parse(expression);
    programs.set(expression, program);
  }
  return program(context);
}

const compiledObjects = new WeakMap<Template, Record<string, unknown>[]>();

/** The template's compiled objects, compiled once per template object. */
function objectsOf(template: Template): Record<string, unknown>[] {
  let objects = compiledObjects.get(template);
  if (objects === undefined) {
    const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
    if (!compiled.ok) throw new Error(compiled.problems.join('; '));
    objects = compiled.objects;
    compiledObjects.set(template, objects);
  }
  return objects;
}

interface Vap {
  spec: {
    variables: { name: string; expression: string }[];
    validations: { expression: string; message?: string; messageExpression?: string }[];
  };
}

function validatingPolicy(template: Template): Vap {
  return objectsOf(template).find((o) => o.kind === 'ValidatingAdmissionPolicy') as unknown as Vap;
}

/** Evaluates a policy's variables in order, as the API server does, for one pod. */
export function policyVariables(template: Template, pod: PodLike): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const variable of validatingPolicy(template).spec.variables) {
    try {
      variables[variable.name] = evaluate(variable.expression, { object: pod, variables, request: { namespace: 'ns' } });
    } catch (error) {
      // The API server evaluates variables lazily: one that fails (int() of a bad value) is only
      // an error if used, and the policy never uses a parameter's value before checking it.
      variables[variable.name] = error;
    }
  }
  return variables;
}

/** The validating policy's validation number `index` on one pod: whether it holds, and its message. */
export function validation(template: Template, pod: PodLike, index: number): { holds: boolean; message: string } {
  const check = validatingPolicy(template).spec.validations[index];
  if (check === undefined) throw new Error(`the policy of ${template.name} has no validation ${index}`);
  const holds =
    evaluate(check.expression, { object: pod, variables: policyVariables(template, pod), request: { namespace: 'ns' } }) === true;
  return { holds, message: check.message ?? '' };
}

/** What a policy sees of one admission request besides the pod: its namespace and labels, and the param (a PatternPolicy). */
export interface Admission {
  namespace: string;
  labels?: Record<string, string>;
  /** The PatternPolicy object; absent: the binding has no param, and the API server does not evaluate the policy. */
  params?: unknown;
}

export interface CompiledPolicy {
  kind: string;
  metadata: { name: string };
  spec: {
    matchConditions: { name: string; expression: string }[];
    variables: { name: string; expression: string }[];
    validations?: { expression: string; message?: string; messageExpression?: string }[];
  };
}

/** A compiled object of a template by kind and name. */
export function compiledObject(template: Template, kind: string, name: string): CompiledPolicy {
  const found = objectsOf(template).find((o) => o.kind === kind && (o.metadata as { name: string }).name === name);
  if (found === undefined) throw new Error(`${template.name} compiles to no ${kind} ${name}`);
  return found as unknown as CompiledPolicy;
}

/**
 * A param as the API server hands it to CEL: integers of fields without a declared number type
 * (parameters, enum values) are ints, the bounds (declared `number`) doubles.
 */
function asCel(value: unknown, key = ''): unknown {
  if (typeof value === 'number') return Number.isInteger(value) && key !== 'minimum' && key !== 'maximum' ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((item) => asCel(item));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asCel(v, k)]));
  return value;
}

function admissionContext(pod: PodLike, admission: Admission, variables: Record<string, unknown>): Record<string, unknown> {
  const labels = { 'kubernetes.io/metadata.name': admission.namespace, ...admission.labels };
  return {
    object: pod,
    variables,
    request: { namespace: admission.namespace },
    params: asCel(admission.params),
    namespaceObject: { metadata: { name: admission.namespace, labels } },
  };
}

/** Whether every matchCondition holds (they see no variables and no namespace object). */
export function matchesConditions(policy: CompiledPolicy, pod: PodLike, admission: Admission): boolean {
  const context = { object: pod, request: { namespace: admission.namespace }, params: asCel(admission.params) };
  return policy.spec.matchConditions.every((c) => evaluate(c.expression, context) === true);
}

/** A policy's variables for one request, in order; a failing one holds its error, as the API server evaluates them lazily. */
export function variablesOf(policy: CompiledPolicy, pod: PodLike, admission: Admission): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const variable of policy.spec.variables) {
    try {
      variables[variable.name] = evaluate(variable.expression, admissionContext(pod, admission, variables));
    } catch (error) {
      variables[variable.name] = error;
    }
  }
  return variables;
}

/** The message of the first validation that fails, as the API server reports it, or undefined when the policy does not match or admits the pod. */
export function denialOf(policy: CompiledPolicy, pod: PodLike, admission: Admission): string | undefined {
  if (!matchesConditions(policy, pod, admission)) return undefined;
  const variables = variablesOf(policy, pod, admission);
  for (const check of policy.spec.validations ?? []) {
    const context = admissionContext(pod, admission, variables);
    if (evaluate(check.expression, context) === true) continue;
    return check.messageExpression === undefined ? (check.message ?? '') : String(evaluate(check.messageExpression, context));
  }
  return undefined;
}
