// Decides a review of a PatternPolicy write: the API server asks before it stores one, and
// podpattern refuses a policy that does not fit the catalog (an unknown template or parameter, a
// value of the wrong type, a bound wider than the template's, a name other than `default`),
// with every problem. Deletes are allowed: a namespace without a policy is what it was before.
import { judgePolicy } from '../catalog/policy.js';
import { POLICY_GROUP, POLICY_KIND } from '../model/policy.js';
import type { Catalog } from '../model/template.js';
import { allow } from './respond.js';
import { invalid } from './template-review.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export function decidePolicy(request: AdmissionRequest, catalog: Catalog | undefined): AdmissionResponse {
  const { uid } = request;
  const isPolicy = request.kind.group === POLICY_GROUP && request.kind.kind === POLICY_KIND && (request.subResource ?? '') === '';
  if (!isPolicy || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return allow(uid);
  const name = (request.object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  const label = `PatternPolicy ${typeof request.namespace === 'string' ? `${request.namespace}/` : ''}${typeof name === 'string' ? name : ''}`;
  if (catalog === undefined)
    return invalid(uid, label, ['podpattern has not loaded its template catalog yet, so it cannot check the policy; retry shortly']);
  const judged = judgePolicy(request.object, catalog, request.namespace);
  return judged.ok ? allow(uid) : invalid(uid, label, judged.problems);
}
