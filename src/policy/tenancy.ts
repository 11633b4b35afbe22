// A namespace's PatternPolicy in the compiled policies. Each template gets a second pair of
// policies whose param is the PatternPolicy named `default` of the pod's own namespace
// (paramKind PatternPolicy; a binding's paramRef without a namespace resolves in the request's):
// a tenant's `kubectl apply` of its policy takes effect by itself, with no controller writing
// admission objects on tenant input, and a namespace without one is not constrained
// (parameterNotFoundAction: Allow). The mutating policy injects the template into a pod that
// asks for nothing where the policy requires it; the validating policy denies, in the webhook's
// words (engine/policy.ts), an opt-out where templates are required, the template where it is
// forbidden, and a parameter outside the narrowed bounds.
import { INJECT_KEY, MIRROR_POD_KEY, PATTERN_KEYS, STATUS_KEY, parameterKey } from '../model/keys.js';
import { POLICY_GROUP, POLICY_KIND } from '../model/policy.js';
import type { Template } from '../model/template.js';
import { concat, quote } from './cel.js';
import { PROBLEMS_MESSAGE, annotation, annotationPresent, askedNames } from './checks.js';
import { ANNS, POLICY_SHOWN, type ParameterSource, type Variable } from './params.js';
import { unavailable } from './availability.js';

export const POLICY_PARAM_KIND = { apiVersion: `${POLICY_GROUP}/v1alpha1`, kind: POLICY_KIND };

/**
 * The namespace's own policy; none there: the binding does not apply (the namespace is not
 * constrained). Chosen by an empty selector, not by name: the CRD admits only the name
 * `default` (policy-schema.ts), so it selects that one or none. By name, a namespace without a
 * policy would cost an admission more than a cache lookup: kube-apiserver 1.37 asks itself for
 * a param its informer does not hold (getParamDirectly in k8s.io/apiserver's policy
 * dispatcher) on every pod CREATE, which in a burst of 500 pods in such namespaces queued and
 * timed out (bench/RESULTS.md). A selector reads the informer only, as kube-apiserver 1.30 does
 * for a name too: a policy applied a moment ago binds once the API server's watch delivers it.
 */
export const POLICY_PARAM_REF = { selector: {}, parameterNotFoundAction: 'Allow' };

/** The object name of a template's PatternPolicy policies and bindings. */
export function tenancyPolicyName(template: string): string {
  return `podpattern-${template}-patternpolicy`;
}

/** A CEL boolean: the namespace's policy requires the template. */
export function requires(name: string): string {
  return `(has(params.spec.require) && params.spec.require.exists(r, r.template == ${quote(name)}))`;
}

/** A CEL boolean: the namespace's policy forbids the template. */
function forbids(name: string): string {
  return `(has(params.spec.forbid) && ${quote(name)} in params.spec.forbid)`;
}

/** A CEL boolean: the namespace's policy narrows the template's parameters. */
function narrows(name: string): string {
  return `(has(params.spec.narrow) && ${quote(name)} in params.spec.narrow)`;
}

/** A CEL boolean: the pod opts out (podpattern.dev/inject: "false"). */
export const OPTED_OUT = `(${quote(INJECT_KEY)} in ${ANNS} && ${ANNS}[${quote(INJECT_KEY)}] == "false")`;
const REQUIRED_NAMES = 'params.spec.require.map(r, r.template).join(", ")';

/** The webhook's refusal of an opt-out where the namespace's policy requires templates, as a CEL string. */
export const OPT_OUT_MESSAGE = concat([
  { text: `podpattern cannot inject this pod: ${INJECT_KEY}: "false" is refused: ` },
  { expression: POLICY_SHOWN },
  { text: ' requires ' },
  { expression: REQUIRED_NAMES },
  { text: " in every pod of the namespace; remove the annotation (only the namespace's admins can change the policy)" },
]);

/**
 * The PatternPolicy's parameters for a template it requires, under the pod's own: the webhook
 * reads a required template's parameter annotations on the pod as if the pod asked for it, and
 * the policy's values where the pod sets none. `variables.policyParameters` holds none or one map.
 */
export const REQUIRED_SOURCE: ParameterSource = {
  present: (key, name) => `(${key} in ${ANNS} || variables.policyParameters.exists(p, ${quote(name)} in p))`,
  raw: (key, name) => `(${key} in ${ANNS} ? ${ANNS}[${key}] : string(variables.policyParameters[0][${quote(name)}]))`,
};

/** What the PatternPolicy says of this template, as variables (after `anns`). */
export function tenancyVariables(template: Template): Variable[] {
  const name = quote(template.name);
  const prefix = quote(parameterKey(template.name, ''));
  return [
    { name: 'asked', expression: askedNames() },
    {
      name: 'policyParameters',
      expression: `has(params.spec.require) ? params.spec.require.filter(r, r.template == ${name} && has(r.parameters)).map(r, r.parameters) : []`,
    },
    { name: 'narrowing', expression: `${narrows(template.name)} ? [params.spec.narrow[${name}]] : []` },
    {
      name: 'unsetPolicyParameters',
      expression: `variables.policyParameters.size() == 0 ? [] : variables.policyParameters[0].filter(k, !((${prefix} + k) in ${ANNS}))`,
    },
  ];
}

/** Forbidden where the pod asks for it; else not available to the pod: the webhook's first refusal of a template. */
export function tenancyGate(template: Template): string {
  return `${forbids(template.name)} && variables.asked.exists(n, n == ${quote(template.name)}) ? [${forbiddenMessage(template)}] : (${unavailable(template, true)})`;
}

/** The webhook's forbidden-by-policy problem. */
function forbiddenMessage(template: Template): string {
  return concat([
    { text: `${PATTERN_KEYS[template.spec.pattern]}: template ${template.name} is forbidden in namespace ` },
    { expression: 'request.namespace' },
    { text: ' by ' },
    { expression: POLICY_SHOWN },
    { text: '; drop it from the pod' },
  ]);
}

export const NOT_A_MIRROR_POD = { name: 'not-a-mirror-pod', expression: `!${annotationPresent(MIRROR_POD_KEY)}` };

/** The mutating policy's pods: not mirror pods, not opted out, not injected, asking for nothing, where the policy requires this template alone. */
export function requireConditions(template: Template): { name: string; expression: string }[] {
  return [
    NOT_A_MIRROR_POD,
    { name: 'not-opted-out', expression: `${annotation(INJECT_KEY)} != "false"` },
    { name: 'not-injected-yet', expression: `!${annotationPresent(STATUS_KEY)}` },
    { name: 'asks-for-nothing', expression: `${askedNames()}.size() == 0` },
    {
      name: 'required-alone',
      expression: `has(params.spec.require) && params.spec.require.size() == 1 && params.spec.require[0].template == ${quote(template.name)}`,
    },
  ];
}

/** The validating policy's pods: not mirror pods, in a namespace whose policy names this template. */
export function tenancyConditions(template: Template): { name: string; expression: string }[] {
  return [
    NOT_A_MIRROR_POD,
    {
      name: 'policy-names-this-template',
      expression: `${requires(template.name)} || ${forbids(template.name)} || ${narrows(template.name)}`,
    },
  ];
}

/** A CEL boolean: the pod's status record lists this template at this version, first or beside others. */
function records(template: Template): string {
  const entry = JSON.stringify({ name: template.name, pattern: template.spec.pattern, hash: template.hash });
  return `(${quote(STATUS_KEY)} in ${ANNS} && ${ANNS}[${quote(STATUS_KEY)}].contains(${quote(entry)}))`;
}

/** The message of a denial the webhook does not give: what webhook-less mode cannot do here, and what to do. */
function withoutWebhook(parts: Parameters<typeof concat>[0]): string {
  return concat([{ text: 'podpattern cannot inject this pod without its webhook: ' }, ...parts]);
}

export function tenancyValidations(template: Template): { expression: string; messageExpression: string }[] {
  const name = quote(template.name);
  const required = requires(template.name);
  const alone = `(variables.asked.size() > 0 && variables.asked.all(n, n == ${name}))`;
  const applies = `!${OPTED_OUT} && (${alone} || (${required} && variables.asked.size() == 0 && params.spec.require.size() == 1))`;
  return [
    {
      // The webhook refuses an opt-out before anything else, as its only problem.
      expression: `!(${required} && ${OPTED_OUT})`,
      messageExpression: OPT_OUT_MESSAGE,
    },
    {
      // Composing templates (their order, the clashes between them, one status record) is the
      // webhook's: where it runs beside the policies, it has, and the pod records the template.
      expression: `!(${required} && !${OPTED_OUT} && (params.spec.require.size() > 1 || (variables.asked.size() > 0 && !${alone})) && !${records(template)})`,
      messageExpression: withoutWebhook([
        { expression: POLICY_SHOWN },
        { text: ' requires ' },
        { expression: REQUIRED_NAMES },
        { expression: `variables.asked.size() > 0 ? " and the pod asks for " + variables.asked.join(", ") : ""` },
        {
          text: '; the admission policies inject one template per pod and only the webhook composes several: run the webhook for this namespace, or require one template and let pods ask for no other',
        },
      ]),
    },
    {
      // The template's own policies inject a pod that asks for it, and they read no PatternPolicy.
      expression: `!(${required} && ${alone} && variables.unsetPolicyParameters.size() > 0)`,
      messageExpression: withoutWebhook([
        { expression: POLICY_SHOWN },
        { text: ` requires ${template.name} with parameters ` },
        { expression: 'variables.unsetPolicyParameters.join(", ")' },
        {
          text: `, which this pod asks for ${template.name} without setting; the admission policies give a pod the policy's parameters only when it does not ask for the template itself: set them on the pod (${parameterKey(template.name, '<parameter>')}), or drop ${template.name} from its annotations`,
        },
      ]),
    },
    { expression: `!(${applies}) || variables.problems.size() == 0`, messageExpression: PROBLEMS_MESSAGE },
    {
      // Among several templates (the webhook's to compose) it is still refused here.
      expression: `!(${forbids(template.name)} && variables.asked.exists(n, n == ${name}))`,
      messageExpression: `"podpattern cannot inject this pod: " + ${forbiddenMessage(template)}`,
    },
  ];
}
