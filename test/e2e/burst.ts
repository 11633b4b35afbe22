// A burst of pod creations through a real API server's admission chain, while podpattern is
// rolled by `helm upgrade`: Deployments scaled up so that kube-controller-manager's ReplicaSet
// controller creates the pods, at its own pace, as it does in a cluster's scale-up; what was
// created, injected, left uninjected and refused (FailedCreate Events) counted afterwards; the
// rollout of podpattern's own pods followed on the side, so a report can say where it fell.
// Used by the e2e suite's burst group (suite-burst.ts) and `npm run bench:cluster`
// (burst-bench.ts), which adds the API server's own metrics.
//
// The pods name the e2e node directly (spec.nodeName): the scheduler has nothing to do, and the
// node agent leaves them Pending (it runs only podpattern's image), as a kubelet that cannot pull
// their image would. Admission, the point here, is the same as for any pod.
import { NODE_NAME } from './node-agent.js';
import { RELEASE_NAMESPACE, type Kube } from './kube.js';
import { missingFromPod, requestAnnotations, type Json, type TemplateInfo } from './pods.js';

/** The Deployment every burst scales, in a namespace of its own. */
export const BURST_DEPLOYMENT = 'burst';

export function burstDeployment(namespace: string, template: TemplateInfo): Json {
  const labels = { app: BURST_DEPLOYMENT };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: BURST_DEPLOYMENT, namespace },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: requestAnnotations(template) },
        spec: {
          nodeName: NODE_NAME,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }],
        },
      },
    },
  };
}

/** What one namespace's burst came to. */
export interface BurstCount {
  namespace: string;
  wanted: number;
  /** Pods of the Deployment that exist. */
  created: number;
  /** Of those, the ones that carry the template entirely (missingFromPod finds nothing). */
  injected: number;
  /** Names of pods created without the injection (a few), and how many there were. */
  missing: { count: number; examples: string[] };
  /** FailedCreate Events of the ReplicaSet, counted with their repeats, and their distinct messages. */
  failedCreate: { count: number; messages: string[] };
  /** Milliseconds from the scale-up until the last pod was seen, or until the burst ended. */
  elapsedMs: number;
  /** Why fewer than `wanted` were created, when they were. */
  incomplete?: string;
}

/** How far one namespace's burst got, as its ReplicaSet reports it. */
export interface Progress {
  namespace: string;
  wanted: number;
  seen: number;
  lastChange: number;
  doneAt?: number;
}

/** Pods the ReplicaSets of the burst Deployments have, by namespace (one kubectl call). */
async function replicaCounts(kube: Kube): Promise<Map<string, number>> {
  const sets = (await kube.json(['get', 'replicasets', '--all-namespaces', '-l', `app=${BURST_DEPLOYMENT}`])).items as Json[];
  const counts = new Map<string, number>();
  for (const rs of sets) counts.set(rs.metadata.namespace, (counts.get(rs.metadata.namespace) ?? 0) + (rs.status?.replicas ?? 0));
  return counts;
}

export interface BurstWait {
  /** The burst ends here whatever happened: a count, and why the rest was not created. */
  ceilingMs: number;
  /** ...and earlier when no namespace gained a pod for this long. */
  stallMs: number;
  /** Called about once a second while waiting (a rollout watch, a step to take). */
  onTick?: () => Promise<void>;
}

/**
 * Scales each namespace's burst Deployment to its `wanted` (all at once), waits until their
 * ReplicaSets hold that many pods, or the ceiling, or a stall, and counts what was created.
 */
export async function scaleAndCount(
  kube: Kube,
  targets: ReadonlyArray<{ namespace: string; wanted: number }>,
  wait: BurstWait,
  template: TemplateInfo,
): Promise<BurstCount[]> {
  const started = Date.now();
  const progress = newProgress(targets, started);
  await Promise.all(targets.map((t) => scaleTo(kube, [t.namespace], t.wanted)));
  await waitForReplicas(kube, progress, wait, started);
  return Promise.all(progress.map((p) => countBurst(kube, p, template, started)));
}

/** Sets the replicas of each namespace's burst Deployment. */
export async function scaleTo(kube: Kube, namespaces: readonly string[], replicas: number): Promise<void> {
  await Promise.all(namespaces.map((ns) => kube.must(['scale', 'deployment', BURST_DEPLOYMENT, '-n', ns, `--replicas=${replicas}`])));
}

/** Waits (with ceilings) until each namespace's ReplicaSet holds `wanted` pods; never throws for a shortfall. */
export async function waitForReplicas(kube: Kube, progress: Progress[], wait: BurstWait, started: number): Promise<void> {
  const deadline = started + wait.ceilingMs;
  for (;;) {
    await wait.onTick?.();
    const now = Date.now();
    const counts = await replicaCounts(kube).catch(() => undefined);
    for (const p of progress) {
      const seen = counts?.get(p.namespace) ?? p.seen;
      if (seen !== p.seen) {
        p.seen = seen;
        p.lastChange = now;
      }
      if (p.seen >= p.wanted) p.doneAt ??= now;
    }
    if (progress.every((p) => p.doneAt !== undefined)) return;
    if (now >= deadline || progress.every((p) => p.doneAt !== undefined || now - p.lastChange >= wait.stallMs)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * Scales each namespace's burst Deployment to 0 and waits until its pods are gone, or the
 * ceiling: the pods name the node, so the scheduler counts their requests against it even
 * though they never run, and left in place they fill it (500 pods of `https-proxy` request 5
 * CPUs), until a replica of podpattern rolled out later finds no room and stays Pending.
 * Returns what is left, counted, when it is not nothing.
 */
export async function clearBurst(kube: Kube, namespaces: readonly string[], ceilingMs: number): Promise<string | undefined> {
  await scaleTo(kube, namespaces, 0);
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const left = await replicaCounts(kube).catch(() => undefined);
    const total = namespaces.reduce((sum, ns) => sum + (left?.get(ns) ?? 0), 0);
    if (left !== undefined && total === 0) return undefined;
    if (Date.now() >= deadline)
      return `${left === undefined ? 'unknown' : total} pods of the burst left after ${Math.round(ceilingMs / 1000)} s`;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function newProgress(targets: ReadonlyArray<{ namespace: string; wanted: number }>, started: number): Progress[] {
  return targets.map((t) => ({ ...t, seen: 0, lastChange: started }));
}

async function failedCreates(kube: Kube, namespace: string): Promise<BurstCount['failedCreate']> {
  const events = (await kube.json(['get', 'events', '-n', namespace, '--field-selector', 'reason=FailedCreate'])).items as Json[];
  const count = events.reduce((sum, e) => sum + Math.max(1, e.count ?? 0, e.series?.count ?? 0), 0);
  return { count, messages: [...new Set(events.map((e) => String(e.message)))].slice(0, 3) };
}

/** Counts the pods of one namespace's burst, and says why it fell short if it did. */
export async function countBurst(kube: Kube, p: Progress, template: TemplateInfo, started: number): Promise<BurstCount> {
  const pods = (await kube.pods(p.namespace, `app=${BURST_DEPLOYMENT}`)).filter((pod) => pod.metadata.deletionTimestamp === undefined);
  const uninjected = pods.filter((pod) => missingFromPod(pod, template).length > 0).map((pod) => pod.metadata.name as string);
  const failedCreate = await failedCreates(kube, p.namespace);
  const count: BurstCount = {
    namespace: p.namespace,
    wanted: p.wanted,
    created: pods.length,
    injected: pods.length - uninjected.length,
    missing: { count: uninjected.length, examples: uninjected.slice(0, 3) },
    failedCreate,
    elapsedMs: (p.doneAt ?? p.lastChange) - started,
  };
  if (pods.length < p.wanted) {
    const stalled =
      p.doneAt === undefined && Date.now() - p.lastChange >= 1000
        ? `no new pod for ${Math.round((Date.now() - p.lastChange) / 1000)} s`
        : 'the ceiling was reached';
    const why = failedCreate.messages[0] ?? (await replicaFailure(kube, p.namespace)) ?? 'the ReplicaSet reports no failure';
    count.incomplete = `${pods.length} of ${p.wanted} created (${stalled}): ${why}`;
  }
  return count;
}

async function replicaFailure(kube: Kube, namespace: string): Promise<string | undefined> {
  const sets = (await kube.json(['get', 'replicasets', '-n', namespace, '-l', `app=${BURST_DEPLOYMENT}`])).items as Json[];
  const condition = sets.flatMap((rs) => (rs.status?.conditions ?? []) as Json[]).find((c) => c.type === 'ReplicaFailure');
  return condition === undefined ? undefined : `${condition.reason}: ${condition.message}`;
}

/** One step of podpattern's rollout, in milliseconds from when the watch began. */
export interface RolloutStep {
  at: number;
  pod: string;
  what: 'ready' | 'terminating' | 'gone';
}

/**
 * Follows podpattern's pods while a `helm upgrade` rolls them: when each new one became ready,
 * each old one began terminating (its endpoint goes, its drain begins), and each was gone.
 */
export class RolloutWatch {
  readonly steps: RolloutStep[] = [];
  private readonly known = new Map<string, { ready: boolean; terminating: boolean }>();
  private readonly started = Date.now();

  constructor(private readonly kube: Kube) {}

  /** The pods that run before the rollout, so that only changes count as steps. */
  async begin(): Promise<void> {
    for (const pod of await this.list()) this.known.set(pod.name, { ready: pod.ready, terminating: pod.terminating });
  }

  /** New steps since the last poll. */
  async poll(): Promise<RolloutStep[]> {
    const pods = await this.list().catch(() => undefined);
    if (pods === undefined) return [];
    const at = Date.now() - this.started;
    const fresh: RolloutStep[] = [];
    for (const pod of pods) {
      const was = this.known.get(pod.name) ?? { ready: false, terminating: false };
      if (pod.ready && !was.ready && !pod.terminating) fresh.push({ at, pod: pod.name, what: 'ready' });
      if (pod.terminating && !was.terminating) fresh.push({ at, pod: pod.name, what: 'terminating' });
      this.known.set(pod.name, { ready: pod.ready, terminating: pod.terminating });
    }
    for (const name of [...this.known.keys()].filter((n) => !pods.some((p) => p.name === n))) {
      this.known.delete(name);
      fresh.push({ at, pod: name, what: 'gone' });
    }
    this.steps.push(...fresh);
    return fresh;
  }

  private async list(): Promise<Array<{ name: string; ready: boolean; terminating: boolean }>> {
    const pods = await this.kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern');
    return pods.map((p) => ({
      name: p.metadata.name as string,
      ready: (p.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True'),
      terminating: p.metadata.deletionTimestamp !== undefined,
    }));
  }

  /** One line: each step at its second, e.g. "podpattern-abc ready +6.1 s". */
  describe(): string {
    return this.steps.map((s) => `${s.pod} ${s.what} +${(s.at / 1000).toFixed(1)} s`).join(', ');
  }
}
