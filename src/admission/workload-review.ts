// Decides a review of a workload write (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
// CronJob): never a refusal, only warnings, which `kubectl apply` prints at once. Without them
// a Deployment whose pod template asks for a misspelt template is stored, its ReplicaSet's pods
// are refused one by one, and the user sees 0/N ready and an Event cut short. The workload is
// read as `podpattern inject` reads a manifest (the same function), so the warnings name what
// the webhook will refuse when the controller creates the pods, and podpattern annotations on
// the workload's own metadata, where nothing reads them.
import { injectManifest } from '../engine/manifest.js';
import { cutBytes } from '../engine/bounds.js';
import type { Catalog } from '../model/template.js';
import type { InjectOptions } from '../engine/types.js';
import { allow } from './respond.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

/** The workloads the chart's entry sends, by group and kind; anything else is let through unread. */
export const WORKLOAD_KINDS: Readonly<Record<string, readonly string[]>> = {
  apps: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'],
  batch: ['Job', 'CronJob'],
};

/**
 * The API server may cut a warning over 256 characters and drops warnings past 4,096 in all
 * (Kubernetes docs, "Dynamic Admission Control", response warnings).
 */
const MAX_WARNING_BYTES = 256;
const MAX_WARNINGS_BYTES = 4096;

export interface WorkloadReviewDeps {
  catalog: () => Catalog | undefined;
  /** The engine options a pod created in this request's namespace would get from /mutate. */
  options: (request: AdmissionRequest) => InjectOptions;
}

export function isWorkloadWrite(request: AdmissionRequest): boolean {
  return (
    (WORKLOAD_KINDS[request.kind.group] ?? []).includes(request.kind.kind) &&
    (request.subResource ?? '') === '' &&
    (request.operation === 'CREATE' || request.operation === 'UPDATE')
  );
}

export function decideWorkload(request: AdmissionRequest, deps: WorkloadReviewDeps): AdmissionResponse {
  const { uid } = request;
  const catalog = deps.catalog();
  if (!isWorkloadWrite(request) || catalog === undefined || typeof request.object !== 'object' || request.object === null)
    return allow(uid);
  const read = injectManifest(request.object, catalog, deps.options(request));
  const label = read.label;
  const refused: string[] = [];
  if (read.refusal !== undefined) refused.push(`podpattern will refuse the pods of ${label}: ${read.refusal}`);
  if (read.result?.outcome === 'denied') {
    const [first, ...others] = read.result.problems.map((problem) => problem.message);
    refused.push(
      `podpattern will refuse the pods of ${label}: ${first ?? read.result.reason}`,
      ...others.map((message) => `…and: ${message}`),
    );
  }
  return allow(uid, [], bound([...refused, ...read.warnings]));
}

/** Each warning cut to what the API server passes on whole, and no more of them than it keeps. */
function bound(warnings: string[]): string[] {
  const kept: string[] = [];
  let total = 0;
  for (const warning of warnings.map((w) => cutBytes(w, MAX_WARNING_BYTES))) {
    total += Buffer.byteLength(warning);
    if (total > MAX_WARNINGS_BYTES) break;
    kept.push(warning);
  }
  return kept;
}
