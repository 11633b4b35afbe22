// The impact check at admission: an UPDATE or DELETE of a PatternTemplate is checked against
// the workloads that run it (check.ts over the index of injected pods). Breaking refuses, naming
// up to MAX_OWNERS owners with the reason their next pods would be denied, unless the template
// carries podpattern.dev/force-reason (then accepted, and the reason recorded in an Event).
// Changing is accepted with warnings, counted per namespace. What cannot be checked (the index
// not synced, the budget spent) is accepted with a warning that says so: the template webhook
// fails open by design, and a silent accept would read as "checked".
import { FORCE_REASON_KEY } from '../model/keys.js';
import type { Catalog, Template } from '../model/template.js';
import type { InjectOptions } from '../engine/types.js';
import { checkImpact, type ImpactReport, type InjectFunction, type OwnerImpact } from './check.js';
import type { InjectedPodIndex } from './pod-index.js';

/** Owners a refusal or warning names at most; the rest are counted. */
export const MAX_OWNERS = 20;
export const MAX_FORCE_REASON = 1024;
/** Owner groups checked in one review at most (each renders two pods: ~0.1 ms; bench/impact.ts). */
export const DEFAULT_MAX_CHECKED = 2_000;
/** Share of the API server's deadline the check may spend; the rest is for answering. */
const TIME_SHARE = 0.5;
const DEFAULT_TIME_MS = 2_000;
/** Changing workloads named one warning each, at most. */
const MAX_CHANGING_SHOWN = 5;
const MAX_WARNING_LENGTH = 256;

export interface ForcedChange {
  template: string;
  uid: string | undefined;
  operation: 'UPDATE' | 'DELETE';
  reason: string;
  user: string | undefined;
  /** What the check found: "2 workloads' next pods would be denied: shop Deployment/web, ..." */
  summary: string;
}

export interface ImpactDeps {
  index: InjectedPodIndex;
  /** The catalog with the cluster template `name` as given (undefined: removed). */
  preview(name: string, template: Template | undefined): Catalog;
  inject: InjectFunction;
  /** Engine options for pods of a namespace (native sidecars, server version, namespace defaults). */
  options(namespace: string): InjectOptions;
  /** Records a forced change as an Event on the template (never for dry runs). */
  recordForced?(change: ForcedChange): void;
  /** The labels of every namespace (a template's canary selector is checked against them); undefined until known. */
  namespaceLabels?: () => Iterable<Readonly<Record<string, string>>> | undefined;
  maxChecked?: number;
  now?: () => number;
}

export type ImpactAnswer = { allowed: true; warnings: string[] } | { allowed: false; message: string };

export interface ImpactRequest {
  operation: 'UPDATE' | 'DELETE';
  name: string;
  uid: string | undefined;
  /** The template as stored, validated (undefined when it was invalid). */
  old: Template | undefined;
  /** The new version (UPDATE), validated. */
  next: Template | undefined;
  forceReason: string | undefined;
  dryRun: boolean;
  user: string | undefined;
  /** The API server's remaining time for this review, when it said. */
  budgetMs: number | undefined;
}

/** The force reason on a template object: undefined when absent; a problem when empty or too long. */
export function readForceReason(object: unknown): { reason?: string; problem?: string } {
  const value = (object as { metadata?: { annotations?: Record<string, unknown> } } | null)?.metadata?.annotations?.[FORCE_REASON_KEY];
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.trim() === '')
    return { problem: `${FORCE_REASON_KEY} is empty: say why the change is made anyway (1 to ${MAX_FORCE_REASON} characters)` };
  if (value.length > MAX_FORCE_REASON)
    return { problem: `${FORCE_REASON_KEY} is ${value.length} characters long, over ${MAX_FORCE_REASON}: say why in fewer words` };
  return { reason: value };
}

export function reviewImpact(request: ImpactRequest, deps: ImpactDeps): ImpactAnswer {
  const { name } = request;
  if (!deps.index.synced) {
    return {
      allowed: true,
      warnings: [
        `podpattern has not listed the injected pods yet, so the impact of this change to PatternTemplate ${name} on running workloads was not checked; 'podpattern templates diff' checks it`,
      ],
    };
  }
  if (request.operation === 'UPDATE' && request.old !== undefined && request.next !== undefined && request.old.hash === request.next.hash)
    return { allowed: true, warnings: [] };
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const timeMs = request.budgetMs === undefined ? DEFAULT_TIME_MS : Math.max(0, request.budgetMs * TIME_SHARE);
  const report = checkImpact({
    usages: deps.index.usages(name),
    before: deps.preview(name, request.old),
    after: deps.preview(name, request.operation === 'DELETE' ? undefined : request.next),
    inject: deps.inject,
    options: (namespace) => deps.options(namespace),
    maxOwners: deps.maxChecked ?? DEFAULT_MAX_CHECKED,
    outOfTime: () => now() - started > timeMs,
  });
  const warnings = incompleteWarnings(name, report, deps.index);
  const verb = request.operation === 'DELETE' ? 'deleting' : 'this change to';
  if (report.breaking.length > 0) {
    const what = `${verb} PatternTemplate ${name} would deny the next pods of ${plural(report.breaking.length, 'workload')}`;
    if (request.forceReason === undefined) {
      return {
        allowed: false,
        message: [
          `podpattern refuses ${what}:`,
          ...ownerLines(report.breaking),
          `Change those workloads first ('podpattern templates diff -f FILE' shows each), or set the annotation ${FORCE_REASON_KEY}: "<why>" on the template to make the change anyway (it is recorded in an Event).`,
        ].join('\n'),
      };
    }
    if (!request.dryRun)
      deps.recordForced?.({
        template: name,
        uid: request.uid,
        operation: request.operation,
        reason: request.forceReason,
        user: request.user,
        summary: `${what}: ${ownerNames(report.breaking)}`,
      });
    warnings.unshift(
      `${FORCE_REASON_KEY} accepts ${what} (${ownerNames(report.breaking)}); 'podpattern status' names them until they change`,
    );
  }
  if (report.changing.length > 0) {
    warnings.push(
      `${verb} PatternTemplate ${name} changes the next pods of ${plural(report.changing.length, 'workload')} (by namespace: ${perNamespace(report.changing)})`,
    );
    for (const o of report.changing.slice(0, MAX_CHANGING_SHOWN))
      warnings.push(
        `${o.usage.namespace} ${o.usage.workload.kind}/${o.usage.workload.name}: ${o.verdict.kind === 'changing' ? o.verdict.fields.join(', ') : ''}`,
      );
    if (report.changing.length > MAX_CHANGING_SHOWN)
      warnings.push(`and ${report.changing.length - MAX_CHANGING_SHOWN} more workloads change ('podpattern templates diff' lists them)`);
  }
  return { allowed: true, warnings: warnings.map(capWarning) };
}

/**
 * The API server may cut a warning over 256 characters ("Warnings" in Kubernetes' dynamic
 * admission control docs): each is cut here, so the cut is ours and marked.
 */
function capWarning(text: string): string {
  return text.length <= MAX_WARNING_LENGTH ? text : `${text.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

function incompleteWarnings(name: string, report: ImpactReport, index: InjectedPodIndex): string[] {
  const warnings: string[] = [];
  if (report.unchecked > 0)
    warnings.push(
      `the impact of this change to PatternTemplate ${name} was not checked for ${plural(report.unchecked, 'owner')} (past the check's budget); 'podpattern templates diff' checks them all`,
    );
  const { overflow, tooLarge } = index.counts();
  if (overflow + tooLarge > 0)
    warnings.push(
      `${plural(overflow + tooLarge, 'injected pod')} are not in podpattern's index (${overflow > 0 ? `${overflow} past its size` : ''}${overflow > 0 && tooLarge > 0 ? ', ' : ''}${tooLarge > 0 ? `${tooLarge} with oversized annotations` : ''}), so they were not checked`,
    );
  return warnings;
}

/** One line per owner, up to MAX_OWNERS, then how many more. */
function ownerLines(owners: OwnerImpact[]): string[] {
  const lines = owners
    .slice(0, MAX_OWNERS)
    .map(
      ({ usage, verdict }) =>
        `- ${usage.namespace}: ${usage.workload.kind}/${usage.workload.name} (${plural(usage.pods, 'pod')}): ${verdict.kind === 'breaking' ? verdict.reasons.join('; ') : ''}`,
    );
  if (owners.length > MAX_OWNERS) lines.push(`- and ${owners.length - MAX_OWNERS} more`);
  return lines;
}

function ownerNames(owners: OwnerImpact[]): string {
  const shown = owners.slice(0, MAX_OWNERS).map((o) => `${o.usage.namespace} ${o.usage.workload.kind}/${o.usage.workload.name}`);
  return `${shown.join(', ')}${owners.length > MAX_OWNERS ? ` and ${owners.length - MAX_OWNERS} more` : ''}`;
}

function perNamespace(owners: OwnerImpact[]): string {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o.usage.namespace, (counts.get(o.usage.namespace) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_OWNERS)
    .map(([ns, n]) => `${ns}: ${n}`)
    .join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
