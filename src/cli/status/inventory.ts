// The inventory behind `podpattern status`, pure: pods in, per template and hash the pods that
// run it, pods injected with a template version the catalog no longer has, and pods that ask for
// a pattern but carry no podpattern.dev/status (they were admitted without injection: the
// webhook was down with failurePolicy Ignore, or the namespace was not labelled then).
import type { V1Pod } from '@kubernetes/client-node';
import type { Catalog } from '../../model/template.js';
import { INJECT_KEY, PATTERN_KEYS, STATUS_KEY } from '../../model/keys.js';
import { readStatus, type Status } from '../../engine/status.js';

/** The workload that owns a pod, and the command that makes it create new pods. */
export interface Workload {
  kind: string;
  name: string;
  roll: string;
}

export interface Outdated {
  pod: string;
  namespace: string;
  workload: Workload;
  /** template: the hash the pod runs -> the catalog's now (undefined when the template is gone). */
  changes: Array<{ template: string; running: string; current: string | undefined }>;
}

export interface NotInjected {
  pod: string;
  namespace: string;
  workload: Workload;
  asks: string[];
}

export interface Inventory {
  /** "template hash" -> pods (namespace/name). */
  byTemplate: Map<string, { template: string; hash: string; current: boolean; pods: string[] }>;
  outdated: Outdated[];
  notInjected: NotInjected[];
}

export function takeInventory(pods: V1Pod[], catalog: Catalog, workloadOf: (pod: V1Pod) => Workload): Inventory {
  const inventory: Inventory = { byTemplate: new Map(), outdated: [], notInjected: [] };
  for (const pod of pods) {
    const annotations = pod.metadata?.annotations ?? {};
    const status = readStatus(annotations);
    if (status === undefined || status === 'unreadable') noteNotInjected(inventory, pod, workloadOf);
    else noteInjected(inventory, pod, status.templates, catalog, workloadOf);
  }
  return inventory;
}

/** A pod with no readable status: listed when it asks for templates and is still running. */
function noteNotInjected(inventory: Inventory, pod: V1Pod, workloadOf: (pod: V1Pod) => Workload): void {
  const annotations = pod.metadata?.annotations ?? {};
  const asks = Object.values(PATTERN_KEYS).filter((key) => annotations[key] !== undefined).map((key) => `${key}=${annotations[key]}`);
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (asks.length === 0 || annotations[INJECT_KEY] === 'false' || finished) return;
  inventory.notInjected.push({ pod: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', workload: workloadOf(pod), asks });
}

/** An injected pod: counted under each template it runs, and listed when one has changed since. */
function noteInjected(inventory: Inventory, pod: V1Pod, templates: Status['templates'], catalog: Catalog, workloadOf: (pod: V1Pod) => Workload): void {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const changes: Outdated['changes'] = [];
  for (const { name: template, hash } of templates) {
    const current = catalog.get(template)?.hash;
    const key = `${template} ${hash}`;
    const entry = inventory.byTemplate.get(key) ?? { template, hash, current: current === hash, pods: [] };
    entry.pods.push(`${namespace}/${name}`);
    inventory.byTemplate.set(key, entry);
    if (current !== hash) changes.push({ template, running: hash, current });
  }
  if (changes.length > 0) inventory.outdated.push({ pod: name, namespace, workload: workloadOf(pod), changes });
}

/** What to run so the workload makes new pods (which the webhook injects afresh). */
export function rollCommand(kind: string, name: string, namespace: string, pod: string): string {
  switch (kind) {
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
      return `kubectl -n ${namespace} rollout restart ${kind.toLowerCase()}/${name}`;
    case 'ReplicaSet':
    case 'ReplicationController':
      return `kubectl -n ${namespace} delete pod ${pod} (the ${kind} creates a new one)`;
    case 'Job':
      return `recreate Job ${name}: kubectl -n ${namespace} get job ${name} -o yaml, delete it, and apply it again`;
    case 'Pod':
      return `kubectl -n ${namespace} delete pod ${pod}, then create it again from its manifest`;
    default:
      return `recreate the pod through its ${kind} ${name}`;
  }
}

export function formatInventory(inventory: Inventory): string {
  const lines: string[] = [];
  const rows = [...inventory.byTemplate.values()].sort((a, b) => a.template.localeCompare(b.template) || a.hash.localeCompare(b.hash));
  if (rows.length === 0) lines.push('no injected pods');
  else {
    const width = Math.max(8, ...rows.map((r) => r.template.length));
    lines.push(`${'TEMPLATE'.padEnd(width)}  HASH              VERSION  PODS`);
    for (const r of rows) lines.push(`${r.template.padEnd(width)}  ${r.hash.padEnd(16)}  ${(r.current ? 'current' : 'outdated').padEnd(7)}  ${r.pods.length}`);
  }
  for (const o of inventory.outdated) {
    const what = o.changes.map((c) => `${c.template} ${c.running} -> ${c.current ?? 'no longer in the catalog'}`).join(', ');
    lines.push(`outdated: ${o.namespace}/${o.pod} (${o.workload.kind} ${o.workload.name}) runs ${what}; roll: ${o.workload.roll}`);
  }
  for (const n of inventory.notInjected) {
    lines.push(`not injected: ${n.namespace}/${n.pod} (${n.workload.kind} ${n.workload.name}) asks for ${n.asks.join(', ')} but has no ${STATUS_KEY}; roll: ${n.workload.roll} ('podpattern check -n ${n.namespace}' first, if it was not sent to the webhook)`);
  }
  return `${lines.join('\n')}\n`;
}
