// A compiled template's ValidatingAdmissionPolicy evaluated for one pod with @marcbachmann/cel-js
// (a CEL implementation in JavaScript; the API server runs cel-go on the same expressions).
import { evaluate } from '@marcbachmann/cel-js';
import type { PodLike } from '../../src/engine/index.js';
import { compileTemplate } from '../../src/policy/index.js';
import type { Template } from '../../src/model/template.js';

interface Vap {
  spec: {
    variables: { name: string; expression: string }[];
    validations: { expression: string; message?: string; messageExpression?: string }[];
  };
}

function validatingPolicy(template: Template): Vap {
  const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  return compiled.objects.find((o) => o.kind === 'ValidatingAdmissionPolicy') as unknown as Vap;
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
