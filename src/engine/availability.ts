// Who may use a template (its spec.availability): the pod's namespace, by its labels, and the
// pod's ServiceAccount. Both parts must hold. Kubernetes sets the label
// kubernetes.io/metadata.name on every namespace to its name (Kubernetes docs, "Namespaces"),
// so a selector may name namespaces; where podpattern knows no more of a namespace than its
// name (the offline CLI without a Namespace object), only that label is matched, and a
// template that needs another is not available: it is never injected on a guess.
import type { Availability, LabelSelector, Template } from '../model/template.js';
import { printable } from './bounds.js';
import type { Problem } from './types.js';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** What availability is judged on: the pod's namespace and its labels (undefined: not known), and its ServiceAccount. */
export interface Requester {
  namespace: string;
  labels: Readonly<Record<string, string>> | undefined;
  serviceAccount: string;
}

/** Whether `labels` satisfy every term of `selector` (metav1.LabelSelector semantics: an empty selector selects everything). */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    const holds =
      operator === 'In'
        ? has && values.includes(value as string)
        : operator === 'NotIn'
          ? !has || !values.includes(value as string)
          : operator === 'Exists'
            ? has
            : !has;
    if (!holds) return false;
  }
  return true;
}

/** Whether the ServiceAccount `account` of namespace `namespace` is one of `allowed` (names, or namespace/name). */
function listsAccount(allowed: readonly string[], namespace: string, account: string): boolean {
  return allowed.some((entry) => entry === account || entry === `${namespace}/${account}`);
}

/** Whether a pod of `who` may use a template with this availability: 'namespace' or 'service-account' when not, by the part that excludes it. */
export function unavailableBy(availability: Availability | undefined, who: Requester): 'namespace' | 'service-account' | undefined {
  if (availability === undefined) return undefined;
  const labels = who.labels ?? { [NAMESPACE_NAME_LABEL]: who.namespace };
  if (availability.namespaceSelector !== undefined && !selects(availability.namespaceSelector, labels)) return 'namespace';
  return availability.serviceAccounts === undefined || listsAccount(availability.serviceAccounts, who.namespace, who.serviceAccount)
    ? undefined
    : 'service-account';
}

/** A label selector in kubectl's syntax (`a=b,c in (d,e),!f`). */
export function describeSelector(selector: LabelSelector): string {
  const terms = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'Exists') terms.push(key);
    else if (operator === 'DoesNotExist') terms.push(`!${key}`);
    else terms.push(`${key} ${operator === 'In' ? 'in' : 'notin'} (${values.join(',')})`);
  }
  return terms.length === 0 ? 'every namespace' : terms.join(',');
}

/** Where a template is available, in words: `namespaces team=a; ServiceAccounts ci, a/deployer`. */
export function describeAvailability(availability: Availability | undefined): string {
  if (availability === undefined) return 'everywhere podpattern serves';
  const parts = [`namespaces ${availability.namespaceSelector === undefined ? '(any)' : describeSelector(availability.namespaceSelector)}`];
  if (availability.serviceAccounts !== undefined) parts.push(`ServiceAccounts ${availability.serviceAccounts.join(', ')}`);
  return parts.join('; ');
}

/** The not-available denial of a template for `who`, or undefined when the template may be used. */
export function availabilityProblem(template: Template, who: Requester): Problem | undefined {
  const { availability } = template.spec;
  const by = unavailableBy(availability, who);
  if (by === undefined) return undefined;
  const unknownLabels =
    by === 'namespace' && who.labels === undefined
      ? ` (only the namespace's name is known here, as ${NAMESPACE_NAME_LABEL}; the CLI takes its labels from a Namespace object in the input)`
      : '';
  return {
    code: 'not-available',
    template: template.name,
    message: `template ${template.name} is not available to pods of ServiceAccount ${printable(who.serviceAccount)} in namespace ${printable(who.namespace)}${unknownLabels}; it is available to ${describeAvailability(availability)}. Ask its owner to extend its spec.availability, or drop it from the pod`,
  };
}
