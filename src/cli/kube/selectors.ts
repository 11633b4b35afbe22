// The API server's decisions about which pods a webhook sees, reproduced for `podpattern check`:
// label selectors (namespaceSelector, objectSelector) and matchConditions. matchConditions are
// CEL, evaluated with @marcbachmann/cel-js (a CEL implementation in JavaScript; the API server
// uses cel-go, and podpattern's conditions use only the standard macros and functions).
import { evaluate } from '@marcbachmann/cel-js';
import type { V1LabelSelector, V1MatchCondition } from '#kube';
import { selectorMatches } from '../../model/label-selector.js';

export { selectorMatches };

/** Why a selector does not match, in words: the first requirement that fails. */
export function selectorMismatch(selector: V1LabelSelector | undefined, labels: Record<string, string>): string | undefined {
  if (selector === undefined) return undefined;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return `needs label ${key}=${value}`;
  for (const expression of selector.matchExpressions ?? []) {
    if (!selectorMatches({ matchExpressions: [expression] }, labels)) {
      const { key, operator, values = [] } = expression;
      return `needs ${key} ${operator}${values.length === 0 ? '' : ` [${values.join(', ')}]`} (has ${Object.hasOwn(labels, key) ? `${key}=${labels[key]}` : `no ${key}`})`;
    }
  }
  return undefined;
}

/** The first matchCondition that is false (or fails to evaluate), or undefined when all hold. */
export function failedCondition(
  conditions: V1MatchCondition[] | undefined,
  object: unknown,
  namespace: string,
): { name: string; error?: string } | undefined {
  const context = {
    object,
    oldObject: null,
    request: {
      operation: 'CREATE',
      namespace,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
    },
  };
  for (const condition of conditions ?? []) {
    try {
      if (evaluate(condition.expression, context) !== true) return { name: condition.name };
    } catch (error) {
      return { name: condition.name, error: (error as Error).message };
    }
  }
  return undefined;
}
