// The workloads whose next pod the current templates would deny, for `podpattern status`: the
// injected pods grouped as the server's index groups them (namespace, workload, the
// annotations they asked with), each group's next pod given to the engine with the catalog in
// force. A template changed past the impact check (podpattern.dev/force-reason) shows here
// until its workloads change.
import type { V1Pod } from '#kube';
import type { Catalog } from '../../model/template.js';
import type { InjectOptions } from '../../engine/types.js';
import { inject } from '../../engine/index.js';
import { AskedTable, recordOf } from '../../impact/pod-record.js';
import { nextPod } from '../../impact/check.js';
import type { Usage } from '../../impact/pod-index.js';
import type { Workload } from './inventory.js';

export interface DeniedNext {
  namespace: string;
  workload: Workload;
  pods: number;
  reasons: string[];
}

export function deniedNext(
  pods: V1Pod[],
  catalog: Catalog,
  workloadOf: (pod: V1Pod) => Workload,
  options: (namespace: string) => InjectOptions,
): DeniedNext[] {
  const table = new AskedTable();
  const groups = new Map<string, { usage: Usage; workload: Workload }>();
  for (const pod of pods) {
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const result = recordOf(pod.metadata, table);
    if (!result.ok) continue;
    const workload = workloadOf(pod);
    const key = `${result.record.namespace}\u0000${workload.kind}\u0000${workload.name}\u0000${result.record.askedKey}`;
    const group = groups.get(key) ?? {
      usage: {
        namespace: result.record.namespace,
        workload: { kind: workload.kind, name: workload.name },
        asked: result.record.asked,
        pods: 0,
        hashes: [],
      },
      workload,
    };
    group.usage.pods += 1;
    groups.set(key, group);
  }
  const denied: DeniedNext[] = [];
  for (const { usage, workload } of groups.values()) {
    const runsToCompletion = workload.kind === 'Job' || workload.kind === 'CronJob';
    const result = inject(nextPod(usage), catalog, {
      ...options(usage.namespace),
      namespace: usage.namespace,
      ...(runsToCompletion ? { runsToCompletion: true } : {}),
    });
    if (result.outcome === 'denied')
      denied.push({ namespace: usage.namespace, workload, pods: usage.pods, reasons: result.problems.map((p) => p.message) });
  }
  return denied;
}

export function formatDeniedNext(denied: DeniedNext[]): string {
  return denied
    .map(
      (d) =>
        `next pod denied: ${d.namespace} ${d.workload.kind}/${d.workload.name} (${d.pods} pod${d.pods === 1 ? '' : 's'} running): ${d.reasons.join('; ')}; fix the workload's annotations, or the template\n`,
    )
    .join('');
}
