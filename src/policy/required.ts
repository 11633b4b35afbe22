// Webhook-less mode's denial of a required template that has no policies here: a namespace's
// PatternPolicy may require a template that was deleted (its compiled policies with it) or never
// compiled, and no template's own policies then judge its pods. One ValidatingAdmissionPolicy,
// bound like the PatternPolicy pairs (the namespace's PatternPolicy `default` as its param,
// podpattern's own namespace and mirror pods left alone), denies such a pod in the webhook's
// words unless its status record lists the template (a webhook beside the policies composed
// it). It judges only namespaces none of whose required templates were compiled beside it: one
// that was is judged by that template's PatternPolicy pair (tenancy.ts), which refuses a pod it
// cannot give every required template, and two denials of the same pod in other words would
// reach the user in no set order. Validating policies run after every mutating one, so the
// status it reads is the one the pod is stored with.
import { STATUS_KEY } from '../model/keys.js';
import { REQUIRED_ABSENT } from '../engine/policy.js';
import { concat, list, quote } from './cel.js';
import { PROBLEMS_MESSAGE } from './checks.js';
import { API_VERSION, bindingMatch, PODS_ON_CREATE, type PolicyOptions } from './compile.js';
import { ANNS, ANNS_VARIABLE, POLICY_SHOWN } from './params.js';
import { NOT_A_MIRROR_POD, OPTED_OUT, OPT_OUT_MESSAGE, POLICY_PARAM_KIND, POLICY_PARAM_REF } from './tenancy.js';

export const REQUIRED_POLICY = 'podpattern-required-templates';

/** The variable that lists the templates compiled beside the policy. */
export const COMPILED_VARIABLE = 'compiled';

/** A CEL boolean: the pod's status record lists the template named by the CEL string `name`. */
function recorded(name: string): string {
  return `(${quote(STATUS_KEY)} in ${ANNS} && ${ANNS}[${quote(STATUS_KEY)}].contains("{\\"name\\":\\"" + ${name} + "\\",\\"pattern\\":"))`;
}

/** The webhook's problem for the required template named by the CEL string `name`. */
function absentMessage(name: string): string {
  return concat([
    { expression: POLICY_SHOWN },
    { text: REQUIRED_ABSENT.requires },
    { expression: name },
    { text: `, which ${REQUIRED_ABSENT.deleted}${REQUIRED_ABSENT.refused}` },
  ]);
}

/**
 * The policy and its binding, for the templates `installed` (compiled beside it): they are the
 * variable `compiled`, a CEL list of names, which the chart sets to the templates it installs.
 */
export function requiredTemplatePolicies(installed: string[], options: PolicyOptions): Record<string, unknown>[] {
  const metadata = { name: REQUIRED_POLICY, labels: { 'app.kubernetes.io/name': 'podpattern' } };
  return [
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        paramKind: POLICY_PARAM_KIND,
        // As the PatternPolicy pairs: a policy that cannot be read refuses the pod.
        failurePolicy: 'Fail',
        matchConstraints: PODS_ON_CREATE,
        matchConditions: [
          NOT_A_MIRROR_POD,
          { name: 'policy-requires-templates', expression: 'has(params.spec.require) && params.spec.require.size() > 0' },
        ],
        variables: [
          { name: COMPILED_VARIABLE, expression: list([...new Set(installed)].sort().map(quote)) },
          ANNS_VARIABLE,
          { name: 'judged', expression: `params.spec.require.all(r, !(r.template in variables.${COMPILED_VARIABLE}))` },
          {
            name: 'problems',
            expression: `${OPTED_OUT} ? [] : params.spec.require.map(r, r.template).filter(n, !${recorded('n')}).map(n, ${absentMessage('n')})`,
          },
        ],
        validations: [
          // The webhook refuses an opt-out before anything else, as its only problem.
          { expression: `!variables.judged || !${OPTED_OUT}`, messageExpression: OPT_OUT_MESSAGE },
          { expression: '!variables.judged || variables.problems.size() == 0', messageExpression: PROBLEMS_MESSAGE },
        ],
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: REQUIRED_POLICY, paramRef: POLICY_PARAM_REF, validationActions: ['Deny'], matchResources: bindingMatch(options) },
    },
  ];
}
