// Who may use a template (its spec.availability) in the compiled policies. The mutating policy's
// binding selects only the namespaces the template is available to (a policy's matchConditions
// see no namespace object, so the namespace's labels can only come in through a binding's
// namespaceSelector), and both policies refuse a ServiceAccount outside the list; the validating
// policy, bound to every namespace podpattern serves, reads the namespace's labels from
// `namespaceObject` (given to a policy's variables and validations) to deny a pod elsewhere
// `not-available`, in the webhook's words (engine/availability.ts).
import { describeAvailability } from '../engine/availability.js';
import type { LabelSelector, Template } from '../model/template.js';
import { concat, list, quote } from './cel.js';
import type { Variable } from './params.js';

/** The pod's ServiceAccount as the webhook reads it: serviceAccountName, else the deprecated serviceAccount, else default. */
export const SERVICE_ACCOUNT_VARIABLE: Variable = {
  name: 'serviceAccount',
  expression:
    'has(object.spec.serviceAccountName) && object.spec.serviceAccountName != "" ? object.spec.serviceAccountName : (has(object.spec.serviceAccount) && object.spec.serviceAccount != "" ? object.spec.serviceAccount : "default")',
};

/** The labels of the pod's namespace, in a policy's variables and validations (never in its matchConditions). */
export const NAMESPACE_LABELS_VARIABLE: Variable = {
  name: 'namespaceLabels',
  expression: 'has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}',
};

/** The variables `unavailable` reads: none for a template available everywhere. */
export function availabilityVariables(template: Template, namespace: boolean): Variable[] {
  const availability = template.spec.availability;
  if (availability === undefined) return [];
  return [SERVICE_ACCOUNT_VARIABLE, ...(namespace && availability.namespaceSelector !== undefined ? [NAMESPACE_LABELS_VARIABLE] : [])];
}

/** A CEL boolean: the labels (a map expression) satisfy every term of the selector, with metav1.LabelSelector semantics. */
export function selectorExpression(selector: LabelSelector, labels: string): string {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    terms.push(`(${quote(key)} in ${labels} && ${labels}[${quote(key)}] == ${quote(value)})`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const k = quote(key);
    const set = list(values.map(quote));
    if (operator === 'In') terms.push(`(${k} in ${labels} && ${labels}[${k}] in ${set})`);
    else if (operator === 'NotIn') terms.push(`(!(${k} in ${labels}) || !(${labels}[${k}] in ${set}))`);
    else if (operator === 'Exists') terms.push(`(${k} in ${labels})`);
    else terms.push(`!(${k} in ${labels})`);
  }
  return terms.length === 0 ? 'true' : terms.join(' && ');
}

/**
 * The webhook's not-available denial, as a CEL list of none or one message. `namespace`: judge
 * the namespace's labels too (validating policies); the mutating policy's binding does that.
 */
export function unavailable(template: Template, namespace: boolean): string {
  const availability = template.spec.availability;
  if (availability === undefined) return '[]';
  const outside: string[] = [];
  if (namespace && availability.namespaceSelector !== undefined)
    outside.push(`!(${selectorExpression(availability.namespaceSelector, 'variables.namespaceLabels')})`);
  if (availability.serviceAccounts !== undefined) {
    const names = list(availability.serviceAccounts.map(quote));
    outside.push(`!(variables.serviceAccount in ${names} || (request.namespace + "/" + variables.serviceAccount) in ${names})`);
  }
  if (outside.length === 0) return '[]';
  const message = concat([
    { text: `template ${template.name} is not available to pods of ServiceAccount ` },
    { expression: 'variables.serviceAccount' },
    { text: ' in namespace ' },
    { expression: 'request.namespace' },
    {
      text: `; it is available to ${describeAvailability(availability)}. Ask its owner to extend its spec.availability, or drop it from the pod`,
    },
  ]);
  return `(${outside.join(' || ')}) ? [${message}] : []`;
}

/** A binding's match narrowed to the namespaces the template is available to: both selectors' terms must hold. */
export function availableMatch(
  match: { namespaceSelector: LabelSelector; objectSelector: unknown },
  template: Template,
): Record<string, unknown> {
  const selector = template.spec.availability?.namespaceSelector;
  if (selector === undefined) return match;
  return {
    ...match,
    namespaceSelector: {
      ...(selector.matchLabels === undefined ? {} : { matchLabels: selector.matchLabels }),
      matchExpressions: [...(match.namespaceSelector.matchExpressions ?? []), ...(selector.matchExpressions ?? [])],
    },
  };
}
