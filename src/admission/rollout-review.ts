// What a template's spec.rollout gets at admission beyond its schema (whose bounds the API
// server and the catalog already enforce): a canary selector that selects no namespace is
// accepted with a warning, since the canary would then never run and the rollout never move.
import type { V1LabelSelector } from '#kube';
import { selectorMatches } from '../model/label-selector.js';

/** The canary selector of a written template, when its spec.rollout has one. */
function canarySelector(object: unknown): V1LabelSelector | undefined {
  const rollout = (object as { spec?: { rollout?: { canary?: { namespaceSelector?: unknown } } } } | null)?.spec?.rollout;
  const selector = rollout?.canary?.namespaceSelector;
  return selector !== null && typeof selector === 'object' ? selector : undefined;
}

/**
 * Warnings about a schema-valid template's rollout. `namespaces` gives every namespace's
 * labels, or undefined while they are not known (no cluster, or not yet synced): then
 * nothing is said, rather than a warning that may be false.
 */
export function rolloutWarnings(
  object: unknown,
  namespaces: (() => Iterable<Readonly<Record<string, string>>> | undefined) | undefined,
): string[] {
  const selector = canarySelector(object);
  const all = selector === undefined ? undefined : namespaces?.();
  if (selector === undefined || all === undefined) return [];
  for (const labels of all) if (selectorMatches(selector, { ...labels })) return [];
  return [
    `spec.rollout.canary.namespaceSelector selects no namespace: a changed spec would reach no canary and never be promoted; label the canary namespaces, or fix the selector (${JSON.stringify(selector).slice(0, 200)})`,
  ];
}
