// Which Event, if any, a review's decision gives. Injections are Normal `Injected` Events,
// denials Warning `Denied` ones; skips, errors and dry runs give none (a dry run has no side
// effects, and an Event is one). The Event is about the pod's controller (ReplicaSet, Job,
// StatefulSet…), since the pod does not exist yet when it is reviewed (a denied one never
// will) and `kubectl describe` of the controller is where a user looks when pods do not appear.
// A pod without an owner gets the Event on its Namespace object, in its namespace, so
// `kubectl get events -n NS` lists it beside the pod's own.
import type { Decision, ReviewFacts } from '../admission/review.js';
import type { InvolvedObject, ReviewEvent } from './recorder.js';

/** The API server's limit on an Event's message is 1 KiB in events.k8s.io; core Events are truncated to match. */
const MAX_MESSAGE = 1024;
/** The longest name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME = 253;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export function reviewEvent(facts: ReviewFacts, decision: Decision): ReviewEvent | undefined {
  if (facts.dryRun || facts.namespace === undefined) return undefined;
  const involved = involvedObject(facts.namespace, facts.owner);
  const pod = facts.pod ?? 'a pod';
  if (decision.outcome === 'injected') {
    const templates = decision.templates.map((t) => t.name).join(', ');
    return { type: 'Normal', reason: 'Injected', involved, key: templates, message: truncate(`pod ${pod}: injected ${templates}`) };
  }
  if (decision.outcome === 'denied') {
    const why = decision.response.status?.message ?? decision.reason;
    return { type: 'Warning', reason: 'Denied', involved, key: decision.reason, message: truncate(`pod ${pod} denied: ${why}`) };
  }
  return undefined;
}

/** The controller owner reference, else the first one, else the pod's Namespace. */
function involvedObject(namespace: string, owner: OwnerReference | undefined): InvolvedObject {
  if (owner === undefined) return { apiVersion: 'v1', kind: 'Namespace', name: namespace, namespace };
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, namespace, uid: owner.uid };
}

/**
 * The owner an Event names, from a pod's ownerReferences (the controller one first), as a small
 * copy: the review's facts are remembered with its answer (admission/replay.ts), so they must not
 * hold on to the hostile pod's objects, and every field is cut to a Kubernetes name's length.
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
  // A fresh string: a slice of a long one is a view that keeps the whole original alive, and a
  // hostile owner name can be megabytes that the remembered answer would then hold.
  const cut = (value: unknown): string => Buffer.from((value as string).slice(0, MAX_NAME), 'utf8').toString('utf8');
  return { apiVersion: cut(chosen.apiVersion), kind: cut(chosen.kind), name: cut(chosen.name), uid: cut(chosen.uid), ...(chosen.controller === true ? { controller: true } : {}) };
}

function truncate(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 1)}…`;
}
