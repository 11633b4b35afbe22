// A namespace's PatternPolicy applied to one pod: the templates it requires join what the pod
// asks for (with the policy's parameters under the pod's own), an opt-out is refused where it
// requires any, forbidden templates are refused, and narrowed bounds are checked on top of the
// template's. Mirror pods are the kubelet's record of static pods, which no admission may
// change: a policy never applies to them.
import { MIRROR_POD_KEY, PATTERN_KEYS, INJECT_KEY } from '../model/keys.js';
import { POLICY_NAME, type NarrowBounds, type Policy, type PolicyView } from '../model/policy.js';
import type { Catalog, ParameterValue, Template } from '../model/template.js';
import type { RE2JS } from 're2js';
import type { Requests } from './requests.js';
import type { PodLike, Problem } from './types.js';

/** The policy that applies to `pod`: none for a mirror pod. */
export function policyFor(pod: PodLike, view: PolicyView): PolicyView {
  return pod.metadata?.annotations?.[MIRROR_POD_KEY] === undefined ? view : undefined;
}

function policyName(namespace: string): string {
  return `PatternPolicy ${namespace}/${POLICY_NAME}`;
}

/** The denial when the namespace has a policy podpattern cannot read (fail closed). */
export function unreadableProblem(namespace: string): Problem {
  return {
    code: 'required-by-policy',
    message: `namespace ${namespace} has a PatternPolicy that podpattern cannot read now (not yet synced, or its RBAC does not allow it), so its pods are refused until it can; retry shortly, and if it persists check the podpattern logs`,
  };
}

/** The denial of an opt-out (podpattern.dev/inject: "false") where the policy requires templates. */
export function optOutProblem(policy: Policy): Problem {
  const names = policy.require.map((r) => r.template).join(', ');
  return {
    code: 'required-by-policy',
    message: `${INJECT_KEY}: "false" is refused: ${policyName(policy.namespace)} requires ${names} in every pod of the namespace; remove the annotation (only the namespace's admins can change the policy)`,
  };
}

/**
 * The words of the denial of a required template the catalog lacks, around the policy and the
 * template's name; the compiled policies' denial of a required template with no policies of its
 * own (policy/required.ts) says the same.
 */
export const REQUIRED_ABSENT = {
  requires: ' requires template ',
  deleted: 'is not in the catalog (deleted?)',
  refused: '; pods of the namespace are refused until the template is restored or the policy no longer requires it',
};

/**
 * Adds the templates the policy requires to `requests`, each under its own pattern, with the
 * policy's parameters where the pod sets none. A required template the catalog lacks (deleted,
 * or invalid) is a problem naming the policy and the template.
 */
export function addRequired(requests: Requests, policy: Policy, catalog: Catalog): void {
  for (const { template: name, parameters } of policy.require) {
    const template = catalog.get(name);
    if (template === undefined) {
      const failure = catalog.failure(name);
      requests.problems.push({
        code: 'required-by-policy',
        template: name,
        message: `${policyName(policy.namespace)}${REQUIRED_ABSENT.requires}${name}, which ${failure === undefined ? REQUIRED_ABSENT.deleted : `is invalid (${failure.problems[0] ?? ''})`}${REQUIRED_ABSENT.refused}`,
      });
      continue;
    }
    if (!requests.templates.some((t) => t.name === name)) requests.templates.push({ name, pattern: template.spec.pattern, from: 'policy' });
    let raw = requests.parameters.get(name);
    if (raw === undefined) requests.parameters.set(name, (raw = new Map<string, string>()));
    for (const [parameter, value] of Object.entries(parameters)) if (!raw.has(parameter)) raw.set(parameter, value);
  }
}

/** The forbidden-by-policy denial of `template`, or undefined when the policy allows it. */
export function forbiddenProblem(template: Template, policy: Policy | undefined): Problem | undefined {
  if (policy === undefined || !policy.forbid.includes(template.name)) return undefined;
  return {
    code: 'forbidden-by-policy',
    template: template.name,
    message: `${PATTERN_KEYS[template.spec.pattern]}: template ${template.name} is forbidden in namespace ${policy.namespace} by ${policyName(policy.namespace)}; drop it from the pod`,
  };
}

/** The bounds a policy puts on one template's parameters, with their compiled patterns. */
export interface Narrowing {
  policy: string;
  bounds: Readonly<Record<string, NarrowBounds>>;
  patterns: ReadonlyMap<string, RE2JS>;
  template: string;
}

export function narrowingOf(template: string, policy: Policy | undefined): Narrowing | undefined {
  const bounds = policy?.narrow[template];
  if (policy === undefined || bounds === undefined) return undefined;
  return { policy: policyName(policy.namespace), bounds, patterns: policy.patterns, template };
}

/** Why `value` is outside the narrowed bounds of `parameter`, or undefined when it fits. */
export function narrowFault(narrowing: Narrowing, parameter: string, value: ParameterValue): string | undefined {
  const bounds = narrowing.bounds[parameter];
  if (bounds === undefined) return undefined;
  const fault = boundsFault(bounds, value, narrowing.patterns.get(`${narrowing.template}/${parameter}`));
  return fault === undefined ? undefined : `${fault} (narrowed by ${narrowing.policy})`;
}

function boundsFault(bounds: NarrowBounds, value: ParameterValue, pattern: RE2JS | undefined): string | undefined {
  if (bounds.enum !== undefined && !bounds.enum.includes(value))
    return `must be one of ${bounds.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (typeof value === 'number') {
    if (bounds.minimum !== undefined && value < bounds.minimum) return `must be at least ${bounds.minimum}`;
    if (bounds.maximum !== undefined && value > bounds.maximum) return `must be at most ${bounds.maximum}`;
  }
  if (typeof value === 'string' && pattern !== undefined && !pattern.test(value)) return `must match ${bounds.pattern ?? ''}`;
  return undefined;
}
