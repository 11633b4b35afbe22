// Which revision of a template the pods of a namespace get, for templates whose changes are
// staged (spec.rollout.canary). While a template's current spec is not promoted, pods in the
// canary namespaces get it and pods elsewhere get the promoted revision, whose hash their
// podpattern.dev/status records as for any template. Pure: the catalog in force, the revisions
// (served-revisions.ts) and the namespace's labels in; a catalog for that namespace out, and
// what was chosen and why. In doubt it leans to the promoted revision: a namespace whose labels
// are not known counts as outside the canary, and a promoted revision that cannot be served (not
// loaded yet, or refused) is never replaced by the current spec: the template is then reported
// unavailable, and the review answers as podpattern's failure mode says.
import { selectorMatches } from '../model/label-selector.js';
import type { Catalog, Template, TemplateFailure } from '../model/template.js';
import type { PromotedRevision, RevisionsView } from './served-revisions.js';

/** Why a namespace gets what it gets. A closed set: a log field and a metric label. */
export type StagedReason = 'canary-namespace' | 'outside-canary' | 'namespace-unknown';

export interface StagedChoice {
  template: string;
  /** The hash of the template's current spec (not promoted yet). */
  current: string;
  /** What this namespace's pods get: the current spec, the promoted revision, or neither (it cannot be served). */
  serves: 'current' | 'promoted' | 'unavailable';
  /** The hash they get; undefined when unavailable. */
  hash: string | undefined;
  reason: StagedReason;
  /** The promoted revision, when the template has one known. */
  promoted?: { name: string; hash: string; revision: number };
  /** Why the promoted revision cannot be served, when it cannot. */
  problem?: string;
}

export interface Staged {
  /** The catalog for pods of the namespace: the catalog in force when nothing is staged. */
  catalog: Catalog;
  /** One per template in canary, by name. */
  choices: StagedChoice[];
}

/** A template in canary: its current spec is not promoted, and its promoted revision (if known). */
export interface InCanary {
  template: Template;
  promoted: PromotedRevision | undefined;
  /** Why there is no promoted revision to serve, when there is none. */
  problem?: string;
}

/**
 * Whether `template`'s current spec is held back from namespaces outside its canary. Not when
 * it has no canary, or is not a cluster template (only those keep revisions), or its current
 * hash is promoted; nor when no revision of it is promoted yet (revisions.ts promotes the
 * current one then: the first spec of a template, or one recorded before promotion existed).
 */
export function inCanary(template: Template, revisions: RevisionsView): InCanary | undefined {
  if (template.source !== 'cluster' || template.rollout?.canary === undefined) return undefined;
  const known = revisions.of(template.name);
  if (known === undefined)
    return { template, promoted: undefined, problem: "the template revisions in podpattern's namespace are not loaded yet" };
  if (known.promoted.size === 0 || known.promoted.has(template.hash)) return undefined;
  const promoted = known.latest;
  if (promoted === undefined) return { template, promoted, problem: 'its promoted revision is not among those loaded' };
  return {
    template,
    promoted,
    ...(promoted.template === undefined ? { problem: promoted.problem ?? 'its promoted revision cannot be served' } : {}),
  };
}

/**
 * The hash a template is served with to pods of a namespace its canary selects (`canary` true)
 * or of any other; undefined when it is not served there (the promoted revision cannot be).
 * What the rollout controller waits for before restarting a workload.
 */
export function servedHash(template: Template, revisions: RevisionsView, canary: boolean): string | undefined {
  const staged = canary ? undefined : inCanary(template, revisions);
  if (staged === undefined) return template.hash;
  return staged.promoted?.template?.hash;
}

/** The canary templates of each catalog snapshot (a snapshot never changes: worked out once). */
const canaryTemplates = new WeakMap<Catalog, Template[]>();

function withCanary(catalog: Catalog): Template[] {
  let found = canaryTemplates.get(catalog);
  if (found === undefined)
    canaryTemplates.set(catalog, (found = catalog.list().filter((t) => t.source === 'cluster' && t.rollout?.canary !== undefined)));
  return found;
}

/** What one namespace gets of a template in canary. */
export function choose(
  staged: InCanary,
  namespace: string | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): StagedChoice {
  const { template, promoted } = staged;
  const base = {
    template: template.name,
    current: template.hash,
    ...(promoted === undefined ? {} : { promoted: { name: promoted.name, hash: promoted.hash, revision: promoted.revision } }),
  };
  // The API server sets kubernetes.io/metadata.name on every namespace; selectors may use it.
  const known = labels === undefined || namespace === undefined ? undefined : { 'kubernetes.io/metadata.name': namespace, ...labels };
  if (known !== undefined && selectorMatches(template.rollout!.canary!.namespaceSelector, known))
    return { ...base, serves: 'current', hash: template.hash, reason: 'canary-namespace' };
  const reason = known === undefined ? 'namespace-unknown' : 'outside-canary';
  if (promoted?.template === undefined)
    return { ...base, serves: 'unavailable', hash: undefined, reason, problem: staged.problem ?? 'its promoted revision cannot be served' };
  return { ...base, serves: 'promoted', hash: promoted.hash, reason };
}

/** The catalog for pods of `namespace` (labels undefined when not known), with what it chose for each template in canary. */
export function stageCatalog(
  catalog: Catalog,
  revisions: RevisionsView,
  namespace: string | undefined,
  labels: Readonly<Record<string, string>> | undefined,
): Staged {
  const choices: StagedChoice[] = [];
  const replaced = new Map<string, Template>();
  const withheld = new Map<string, TemplateFailure>();
  for (const template of withCanary(catalog)) {
    const staged = inCanary(template, revisions);
    if (staged === undefined) continue;
    const choice = choose(staged, namespace, labels);
    choices.push(choice);
    if (choice.serves === 'promoted') replaced.set(template.name, staged.promoted!.template!);
    if (choice.serves === 'unavailable')
      withheld.set(template.name, { name: template.name, source: 'cluster', problems: [unavailableText(choice)] });
  }
  if (choices.length === 0) return { catalog, choices };
  return { catalog: overlay(catalog, replaced, withheld), choices };
}

/** Why a template in canary cannot be served to a namespace outside its canary. */
export function unavailableText(choice: StagedChoice): string {
  const where =
    choice.reason === 'namespace-unknown'
      ? "this namespace's labels are not known yet, so it counts as outside the canary"
      : 'this namespace is outside the canary';
  return `${choice.template} is in canary (its spec ${choice.current} is not promoted) and ${where}, where only its promoted revision is served; that revision cannot be served: ${choice.problem ?? 'not found'}`;
}

function overlay(catalog: Catalog, replaced: Map<string, Template>, withheld: Map<string, TemplateFailure>): Catalog {
  const list = catalog.list().flatMap((t) => (withheld.has(t.name) ? [] : [replaced.get(t.name) ?? t]));
  return {
    get: (name) => (withheld.has(name) ? undefined : (replaced.get(name) ?? catalog.get(name))),
    list: () => list,
    failure: (name) => withheld.get(name) ?? catalog.failure(name),
    failures: () => [...catalog.failures().filter((f) => !withheld.has(f.name)), ...withheld.values()],
  };
}
