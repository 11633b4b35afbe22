// Running pods that break their namespace's PatternPolicy, for `podpattern status`: a policy
// applies to pods created after it, so pods that started before it (or while podpattern was down)
// may lack a template it requires, carry one it forbids, or be opted out. Read from each pod's
// podpattern.dev/status record; grouped by workload, each with the command that rolls it.
import type { V1Pod } from '#kube';
import { readStatus } from '../../engine/status.js';
import { INJECT_KEY, MIRROR_POD_KEY } from '../../model/keys.js';
import type { Policy } from '../../model/policy.js';
import type { Workload } from './inventory.js';

export interface PolicyViolation {
  namespace: string;
  workload: Workload;
  pods: number;
  problems: string[];
}

/** What one pod lacks or carries against `policy`. */
function podProblems(pod: V1Pod, policy: Policy): string[] {
  const annotations = pod.metadata?.annotations ?? {};
  const status = readStatus(annotations);
  const recorded = typeof status === 'object' ? status.templates.map((t) => t.name) : [];
  const problems = policy.require.filter((r) => !recorded.includes(r.template)).map((r) => `lacks ${r.template} (required)`);
  if (problems.length > 0 && annotations[INJECT_KEY] === 'false') problems.push(`opted out (${INJECT_KEY}: "false")`);
  problems.push(...recorded.filter((name) => policy.forbid.includes(name)).map((name) => `carries ${name} (forbidden)`));
  return problems;
}

export function policyViolations(
  pods: V1Pod[],
  policies: ReadonlyMap<string, Policy>,
  workloadOf: (pod: V1Pod) => Workload,
): PolicyViolation[] {
  const groups = new Map<string, PolicyViolation>();
  for (const pod of pods) {
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    if (pod.metadata?.annotations?.[MIRROR_POD_KEY] !== undefined) continue;
    const namespace = pod.metadata?.namespace ?? '';
    const policy = policies.get(namespace);
    if (policy === undefined) continue;
    const problems = podProblems(pod, policy);
    if (problems.length === 0) continue;
    const workload = workloadOf(pod);
    const key = `${namespace}\u0000${workload.kind}\u0000${workload.name}\u0000${problems.join('\u0000')}`;
    const group = groups.get(key) ?? { namespace, workload, pods: 0, problems };
    group.pods += 1;
    groups.set(key, group);
  }
  return [...groups.values()];
}

export function formatPolicyViolations(violations: PolicyViolation[]): string {
  return violations
    .map(
      (v) =>
        `breaks PatternPolicy ${v.namespace}/default: ${v.namespace} ${v.workload.kind}/${v.workload.name} (${v.pods} pod${v.pods === 1 ? '' : 's'} running): ${v.problems.join('; ')}; started before the policy, roll it: ${v.workload.roll}\n`,
    )
    .join('');
}
