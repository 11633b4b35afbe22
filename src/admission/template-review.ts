// Decides a review of a PatternTemplate write: the API server asks before it stores a
// template, and podpattern refuses one its catalog would refuse, with the catalog's own
// problems. So `kubectl apply` of a broken template fails at once with every reason, and a
// template the API server stores is one the catalog accepts. The CRD's schema checks shape
// only (a template's containers keep any fields until they reach a pod); the meaning of a
// template (placeholders naming declared parameters, bounds on parameters used in images or
// privileges, ...) is the catalog's to check. The webhook fails open, so templates can still be
// written while podpattern is down; the catalog then reports a bad one on its Ready condition
// and keeps the last good version in force.
//
// An UPDATE or DELETE is also checked against the workloads that run the template (the impact
// check, src/impact/review.ts), when the server keeps an index of injected pods.
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import { TEMPLATE_GROUP, TEMPLATE_KIND, type Template } from '../model/template.js';
import { FORCE_REASON_KEY } from '../model/keys.js';
import { readForceReason, reviewImpact, type ImpactDeps } from '../impact/review.js';
import { allow } from './respond.js';
import { rolloutWarnings } from './rollout-review.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

/** A denial lists at most this many problems, and says how many more there are. */
const MAX_PROBLEMS = 20;
const MAX_PROBLEM_LENGTH = 300;

export interface TemplateReviewOptions {
  /** The impact check's collaborators; without them updates and deletes are checked for shape only. */
  impact?: ImpactDeps;
  /** The API server's remaining time for this review, when it said. */
  budgetMs?: number;
}

export function decideTemplate(request: AdmissionRequest, options: TemplateReviewOptions = {}): AdmissionResponse {
  const response = decideWrite(request, options);
  if (!response.allowed || request.operation === 'DELETE') return response;
  const warnings = rolloutWarnings(request.object, options.impact?.namespaceLabels);
  return warnings.length === 0 ? response : { ...response, warnings: [...(response.warnings ?? []), ...warnings] };
}

function decideWrite(request: AdmissionRequest, options: TemplateReviewOptions): AdmissionResponse {
  const { uid } = request;
  const isTemplate = request.kind.group === TEMPLATE_GROUP && request.kind.kind === TEMPLATE_KIND && (request.subResource ?? '') === '';
  const operation = request.operation;
  if (!isTemplate || (operation !== 'CREATE' && operation !== 'UPDATE' && operation !== 'DELETE')) return allow(uid);
  const written = operation === 'DELETE' ? request.oldObject : request.object;
  const name = nameOf(written) ?? (typeof request.name === 'string' ? request.name : undefined);
  const force = readForceReason(written);
  if (force.problem !== undefined) return refuse(uid, `podpattern refuses PatternTemplate ${name ?? ''}: ${force.problem}`);
  let next: Template | undefined;
  if (operation !== 'DELETE') {
    const verdict = validateTemplate(templateOfObject(written), 'cluster', name ?? 'unnamed');
    // A stored template already refused by the catalog may still be annotated (a force reason
    // before its delete): an update that leaves its spec as it was changes nothing pods get.
    if (!verdict.ok) return refusedShape(request, name, verdict.problems);
    next = verdict.template;
  }
  if (options.impact === undefined || name === undefined) return allow(uid);
  if (operation === 'CREATE') return checkShadowing(request, { name, next, forceReason: force.reason }, options.impact, options.budgetMs);
  return checkImpactOf(request, { operation, name, next, forceReason: force.reason }, options.impact, options.budgetMs);
}

/**
 * A new cluster template that takes the place of a built-in or --catalog-dir one of its name
 * changes what that one's workloads get: checked as an update of it.
 */
function checkShadowing(
  request: AdmissionRequest,
  change: { name: string; next: Template | undefined; forceReason: string | undefined },
  impact: ImpactDeps,
  budgetMs: number | undefined,
): AdmissionResponse {
  const shadowed = impact.preview(change.name, undefined).get(change.name);
  if (shadowed === undefined) return allow(request.uid);
  return checkImpactOf(request, { ...change, operation: 'UPDATE', stored: shadowed }, impact, budgetMs);
}

/** An update or delete of a valid template, against the workloads that run it. */
function checkImpactOf(
  request: AdmissionRequest,
  change: { operation: 'UPDATE' | 'DELETE'; name: string; next: Template | undefined; forceReason: string | undefined; stored?: Template },
  impact: ImpactDeps,
  budgetMs: number | undefined,
): AdmissionResponse {
  const stored =
    change.stored === undefined
      ? validateTemplate(templateOfObject(request.oldObject), 'cluster', change.name)
      : { ok: true as const, template: change.stored };
  // A reason already on the stored template was given for an earlier change: this one needs its own.
  const stale =
    change.operation === 'UPDATE' && change.forceReason !== undefined && readForceReason(request.oldObject).reason === change.forceReason;
  const answer = reviewImpact(
    {
      operation: change.operation,
      name: change.name,
      next: change.next,
      uid: uidOf(request.oldObject ?? request.object),
      old: stored.ok ? stored.template : undefined,
      forceReason: stale ? undefined : change.forceReason,
      dryRun: request.dryRun === true,
      user: request.userInfo?.username,
      budgetMs,
    },
    impact,
  );
  if (!answer.allowed)
    return refuse(
      request.uid,
      stale
        ? `${answer.message}\n(The ${FORCE_REASON_KEY} on the template was given for an earlier change: write a new one for this change.)`
        : answer.message,
    );
  return allow(request.uid, [], answer.warnings);
}

/** A 422 answer listing `problems` (at most MAX_PROBLEMS, each cut) of the object `label` (e.g. `PatternTemplate NAME`). */
export function invalid(uid: string, label: string, problems: string[]): AdmissionResponse {
  const [first, ...others] = problems
    .slice(0, MAX_PROBLEMS)
    .map((p) => (p.length > MAX_PROBLEM_LENGTH ? `${p.slice(0, MAX_PROBLEM_LENGTH)}…` : p));
  const more = problems.length - 1 - others.length;
  // The first problem on the first line: where kubectl's output is cut to one line, it still says what is wrong.
  const message = [
    `podpattern's catalog refuses ${label}${problems.length === 1 ? '' : ` (${problems.length} problems)`}: ${first ?? ''}`,
    ...others.map((p) => `- ${p}`),
    ...(more > 0 ? [`- and ${more} more`] : []),
  ].join('\n');
  return { uid, allowed: false, status: { code: 422, reason: 'Invalid', message } };
}

/** A write refused for what it would do, not for its shape: 403, as a policy refusal. */
function refuse(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } };
}

function nameOf(object: unknown): string | undefined {
  const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' ? name : undefined;
}

function uidOf(object: unknown): string | undefined {
  const uid = (object as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
  return typeof uid === 'string' ? uid.slice(0, 128) : undefined;
}

/** The answer to a template the catalog refuses: invalid, unless the update leaves a stored spec as it was. */
function refusedShape(request: AdmissionRequest, name: string | undefined, problems: string[]): AdmissionResponse {
  return request.operation === 'UPDATE' && sameSpec(request.object, request.oldObject)
    ? allow(request.uid)
    : invalid(request.uid, `PatternTemplate ${name ?? ''}`, problems);
}

function sameSpec(object: unknown, old: unknown): boolean {
  const spec = (o: unknown): string => JSON.stringify((o as { spec?: unknown } | null)?.spec ?? null);
  return spec(object) === spec(old);
}
