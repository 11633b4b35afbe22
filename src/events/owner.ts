// The owner of a pod under review, as the Event about the review names it (the pod's
// controller: a ReplicaSet, Job, StatefulSet...).

/** The longest name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME = 253;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

/**
 * The owner an Event names, from a pod's ownerReferences (the controller one first), as a small
 * copy: an Event about it is queued (events/recorder.ts), so it must not hold on to the hostile
 * pod's objects, and every field is cut to a Kubernetes name's length.
 */
export function ownerOf(references: unknown): OwnerReference | undefined {
  if (!Array.isArray(references)) return undefined;
  let chosen: Record<string, unknown> | undefined;
  for (const r of references as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Record<string, unknown>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || typeof o.name !== 'string' || typeof o.uid !== 'string') continue;
    chosen ??= o;
    if (o.controller === true) {
      chosen = o;
      break;
    }
  }
  if (chosen === undefined) return undefined;
  const owner: OwnerReference = {
    apiVersion: cut(chosen.apiVersion as string),
    kind: cut(chosen.kind as string),
    name: cut(chosen.name as string),
    uid: cut(chosen.uid as string),
  };
  if (chosen.controller === true) owner.controller = true;
  return owner;
}

/**
 * A name cut to MAX_NAME characters, as a fresh string: a slice of a long one is a view that
 * keeps the whole original alive, and a hostile owner name can be megabytes that a queued Event
 * would then hold. A name within the limit is kept as JSON.parse made it, a string of its own.
 */
function cut(value: string): string {
  return value.length <= MAX_NAME ? value : Buffer.from(value.slice(0, MAX_NAME), 'utf8').toString('utf8');
}
