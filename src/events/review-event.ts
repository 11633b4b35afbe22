// Which Event, if any, a review's decision gives. Injections are Normal `Injected` Events,
// denials Warning `Denied` ones; skips, errors and dry runs give none (a dry run has no side
// effects, and an Event is one). The Event is about the pod's controller (ReplicaSet, Job,
// StatefulSet…), since the pod does not exist yet when it is reviewed (a denied one never
// will) and `kubectl describe` of the controller is where a user looks when pods do not appear.
// A pod without an owner gets the Event on its Namespace object, in its namespace, so
// `kubectl get events -n NS` lists it beside the pod's own.
// The pod's name, generateName and owner are chosen by whoever creates the pod, so none of them
// is on an Event's first line (the one `kubectl get events` shows): that line is podpattern's
// own words, the denial code and the first problem (whose values the engine escaped and cut),
// and the pod's name follows on the next, quoted and cut.
import type { Decision, ReviewFacts } from '../admission/review.js';
import { ownerOf, type OwnerReference } from './owner.js';
import { cutBytes, printable } from '../engine/bounds.js';
import type { PodLike } from '../engine/types.js';
import type { InvolvedObject, ReviewEvent } from './recorder.js';

/** The API server's limit on an Event's message is 1 KiB in events.k8s.io; core Events are truncated to match. */
const MAX_MESSAGE = 1024;
/** Characters of the pod's name in an Event: a generated name is far shorter. */
const MAX_POD_NAME = 64;

/** `object` is the reviewed pod; its owner is read only for a review that gives an Event. */
export function reviewEvent(facts: ReviewFacts, decision: Decision, object: unknown): ReviewEvent | undefined {
  if (facts.dryRun || facts.namespace === undefined) return undefined;
  if (decision.outcome !== 'injected' && decision.outcome !== 'denied') return undefined;
  const involved = involvedObject(facts.namespace, ownerOf((object as PodLike | undefined)?.metadata?.ownerReferences));
  const pod = facts.pod === undefined ? 'pod (unnamed)' : `pod ${JSON.stringify(printable(facts.pod, MAX_POD_NAME))}`;
  if (decision.outcome === 'injected') {
    // Template names are the catalog's (operator-owned): only an injected template is named here.
    const templates = decision.templates.map((t) => t.name).join(', ');
    return { type: 'Normal', reason: 'Injected', involved, key: templates, message: truncate(`podpattern injected ${templates}\n${pod}`) };
  }
  // The first problem goes on the first line (the one `kubectl get events` shows); its values
  // are the engine's, escaped and cut, inside podpattern's own words.
  const [first = decision.reason, ...rest] = (decision.response.status?.message ?? decision.reason).split('\n');
  const parts = /^podpattern cannot inject this pod(?: \((\d+) problems\))?: (.*)$/.exec(first);
  const head =
    parts === null
      ? `podpattern denied a pod (${decision.reason}): ${first}`
      : `podpattern denied a pod (${decision.reason}${parts[1] === undefined ? '' : `, ${parts[1]} problems`}): ${parts[2] ?? ''}`;
  return { type: 'Warning', reason: 'Denied', involved, key: decision.reason, message: truncate([head, pod, ...rest].join('\n')) };
}

/** The controller owner reference, else the first one, else the pod's Namespace. */
function involvedObject(namespace: string, owner: OwnerReference | undefined): InvolvedObject {
  if (owner === undefined) return { apiVersion: 'v1', kind: 'Namespace', name: namespace, namespace };
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, namespace, uid: owner.uid };
}

function truncate(text: string): string {
  return cutBytes(text, MAX_MESSAGE);
}
