// The inventory behind `podpattern status`, pure: pods in, per template and hash the pods that
// run it, pods injected with a template version the catalog no longer has, and pods that ask for
// a pattern but carry no podpattern.dev/status (they were admitted without injection: the
// webhook was down with failurePolicy Ignore, or the namespace was not labelled then).
import type { V1Pod } from '#kube';
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

/** `catalog` may be one per namespace: where a template is in canary, what that namespace's pods get of it (impact/staged.ts). */
export function takeInventory(
  pods: V1Pod[],
  catalog: Catalog | ((namespace: string) => Catalog),
  workloadOf: (pod: V1Pod) => Workload,
): Inventory {
  const inventory: Inventory = { byTemplate: new Map(), outdated: [], notInjected: [] };
  const catalogOf = typeof catalog === 'function' ? catalog : () => catalog;
  for (const pod of pods) {
    const annotations = pod.metadata?.annotations ?? {};
    const status = readStatus(annotations);
    if (status === undefined || status === 'unreadable') noteNotInjected(inventory, pod, workloadOf);
    else noteInjected(inventory, pod, status.templates, catalogOf(pod.metadata?.namespace ?? ''), workloadOf);
  }
  return inventory;
}

/** A pod with no readable status: listed when it asks for templates and is still running. */
function noteNotInjected(inventory: Inventory, pod: V1Pod, workloadOf: (pod: V1Pod) => Workload): void {
  const annotations = pod.metadata?.annotations ?? {};
  const asks = Object.values(PATTERN_KEYS)
    .filter((key) => annotations[key] !== undefined)
    .map((key) => `${key}=${annotations[key]}`);
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (asks.length === 0 || annotations[INJECT_KEY] === 'false' || finished) return;
  inventory.notInjected.push({ pod: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', workload: workloadOf(pod), asks });
}

/** An injected pod: counted under each template it runs, and listed when one has changed since. */
function noteInjected(
  inventory: Inventory,
  pod: V1Pod,
  templates: Status['templates'],
  catalog: Catalog,
  workloadOf: (pod: V1Pod) => Workload,
): void {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const changes: Outdated['changes'] = [];
  for (const { name: template, hash } of templates) {
    const current = catalog.get(template)?.hash;
    const key = `${template} ${hash}`;
    const entry = inventory.byTemplate.get(key) ?? { template, hash, current: false, pods: [] };
    // Current where any namespace gets it: a template in canary has two hashes served at once.
    entry.current ||= current === hash;
    entry.pods.push(`${namespace}/${name}`);
    inventory.byTemplate.set(key, entry);
    if (current !== hash) changes.push({ template, running: hash, current });
  }
  // A finished pod runs nothing: its workload's next pod gets the current template anyway.
  const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (changes.length > 0 && !finished) inventory.outdated.push({ pod: name, namespace, workload: workloadOf(pod), changes });
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

/**
 * The inventory as text. `changed` says which fields of an outdated pod's injected part the
 * templates in force now would change (status/changes.ts); undefined when it cannot tell.
 */
export function formatInventory(inventory: Inventory, changed: (outdated: Outdated) => string[] | undefined = () => undefined): string {
  const lines: string[] = [];
  const rows = [...inventory.byTemplate.values()].sort((a, b) => a.template.localeCompare(b.template) || a.hash.localeCompare(b.hash));
  if (rows.length === 0) lines.push('no injected pods');
  else {
    const width = Math.max(8, ...rows.map((r) => r.template.length));
    lines.push(`${'TEMPLATE'.padEnd(width)}  HASH              VERSION  PODS`);
    for (const r of rows)
      lines.push(`${r.template.padEnd(width)}  ${r.hash.padEnd(16)}  ${(r.current ? 'current' : 'outdated').padEnd(7)}  ${r.pods.length}`);
  }
  for (const group of byWorkload(inventory.outdated, (o) =>
    o.changes.map((c) => `${c.template} ${c.running} -> ${c.current ?? 'no longer in the catalog'}`).join(', '),
  )) {
    const gone = group.items[0]!.changes.filter((c) => c.current === undefined).map((c) => c.template);
    // Rolling a workload whose template left the catalog gives pods the webhook refuses.
    const fix =
      gone.length > 0
        ? `${gone.join(', ')} ${gone.length === 1 ? 'is' : 'are'} no longer in the catalog, so new pods asking for ${gone.length === 1 ? 'it' : 'them'} would be refused: put ${gone.length === 1 ? 'it' : 'them'} back, or take ${gone.length === 1 ? 'it' : 'them'} out of the pod template, then roll: ${group.workload.roll}`
        : `roll: ${group.workload.roll}`;
    // Fields compared are those of containers, volume names and annotations: none differing
    // there is no proof that nothing did, so it is not said.
    const fields = gone.length > 0 ? undefined : changed(group.items[0]!);
    const what = fields === undefined || fields.length === 0 ? '' : ` (changed: ${fields.join(', ')})`;
    lines.push(`outdated: ${describe(group)} run${group.items.length === 1 ? 's' : ''} ${group.key}${what}; ${fix}`);
  }
  for (const group of byWorkload(inventory.notInjected, (n) => n.asks.join(', '))) {
    // Why they were not injected decides what helps: check says it; rolling helps only once it passes.
    const target =
      group.workload.kind === 'Pod'
        ? `-f POD.yaml -n ${group.namespace}`
        : `${checkKind(group.workload.kind)}/${group.workload.name} -n ${group.namespace}`;
    lines.push(
      `not injected: ${describe(group)} ask${group.items.length === 1 ? 's' : ''} for ${group.key} but ${group.items.length === 1 ? 'has' : 'have'} no ${STATUS_KEY}; podpattern check ${target} says why, then roll: ${group.workload.roll}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Group<T> {
  namespace: string;
  workload: Workload;
  /** What the pods have in common (the templates changed, or asked for). */
  key: string;
  items: T[];
}

/** Pods of one workload with the same story are one line: a Deployment at 100 replicas is not 100 lines. */
function byWorkload<T extends { pod: string; namespace: string; workload: Workload }>(
  items: T[],
  keyOf: (item: T) => string,
): Array<Group<T>> {
  const groups = new Map<string, Group<T>>();
  for (const item of items) {
    const key = keyOf(item);
    const id =
      item.workload.kind === 'Pod'
        ? `${item.namespace}/pod/${item.pod} ${key}`
        : `${item.namespace}/${item.workload.kind}/${item.workload.name} ${key}`;
    const group = groups.get(id) ?? { namespace: item.namespace, workload: item.workload, key, items: [] };
    group.items.push(item);
    groups.set(id, group);
  }
  return [...groups.values()];
}

function describe<T extends { pod: string }>(group: Group<T>): string {
  if (group.workload.kind === 'Pod') return `pod ${group.namespace}/${group.items[0]!.pod}`;
  const count = group.items.length;
  const sample = group.items
    .slice(0, 3)
    .map((item) => item.pod)
    .join(', ');
  return `${group.workload.kind} ${group.namespace}/${group.workload.name} (${count} pod${count === 1 ? '' : 's'}: ${sample}${count > 3 ? ', …' : ''})`;
}

/** kubectl's short name for `podpattern check KIND/NAME`. */
function checkKind(kind: string): string {
  const short: Record<string, string> = {
    Deployment: 'deploy',
    StatefulSet: 'sts',
    DaemonSet: 'ds',
    ReplicaSet: 'rs',
    Job: 'job',
    CronJob: 'cj',
  };
  return short[kind] ?? kind.toLowerCase();
}
