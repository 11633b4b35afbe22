// Decides a review of a PatternTemplate write: the API server asks before it stores a
// template, and podpattern refuses one its catalog would refuse, with the catalog's own
// problems. So `kubectl apply` of a broken template fails at once with every reason, and a
// template the API server stores is one the catalog accepts. The CRD's schema checks shape
// only (a template's containers keep any fields until they reach a pod); the meaning of a
// template (placeholders naming declared parameters, bounds on parameters used in images or
// privileges, ...) is the catalog's to check. The webhook fails open, so templates can still be
// written while podpattern is down; the catalog then reports a bad one on its Ready condition
// and keeps the last good version in force.
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import { TEMPLATE_GROUP, TEMPLATE_KIND } from '../model/template.js';
import { allow } from './respond.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';


/** A denial lists at most this many problems, and says how many more there are. */
const MAX_PROBLEMS = 20;
const MAX_PROBLEM_LENGTH = 300;

export function decideTemplate(request: AdmissionRequest): AdmissionResponse {
  const { uid } = request;
  const isTemplate = request.kind.group === TEMPLATE_GROUP && request.kind.kind === TEMPLATE_KIND && (request.subResource ?? '') === '';
  if (!isTemplate || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return allow(uid);
  const object = request.object;
  const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const verdict = validateTemplate(templateOfObject(object), 'cluster', typeof name === 'string' ? name : 'unnamed');
  if (verdict.ok) return allow(uid);
  const [first, ...others] = verdict.problems.slice(0, MAX_PROBLEMS).map((p) => (p.length > MAX_PROBLEM_LENGTH ? `${p.slice(0, MAX_PROBLEM_LENGTH)}…` : p));
  const more = verdict.problems.length - 1 - others.length;
  // The first problem on the first line: where kubectl's output is cut to one line, it still says what is wrong.
  const message = [
    `podpattern's catalog refuses PatternTemplate ${typeof name === 'string' ? name : ''}${verdict.problems.length === 1 ? '' : ` (${verdict.problems.length} problems)`}: ${first ?? ''}`,
    ...others.map((p) => `- ${p}`),
    ...(more > 0 ? [`- and ${more} more`] : []),
  ].join('\n');
  return { uid, allowed: false, status: { code: 422, reason: 'Invalid', message } };
}
