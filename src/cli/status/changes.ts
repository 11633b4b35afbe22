// What changed for the pods `podpattern status` flags as outdated: the injected part of a running
// pod (the containers, volumes and annotations its podpattern.dev/status names) against that of
// the pod its workload would get from the templates in force now, field by field, as
// src/impact/running.ts compares them (the API server's defaults applied to both sides). The
// running pod is the record of the old template version, so this works for built-in templates,
// whose old versions no revision keeps, as for the cluster's.
import type { V1Pod } from '#kube';
import type { Catalog } from '../../model/template.js';
import type { InjectOptions, PodLike } from '../../engine/types.js';
import { inject } from '../../engine/index.js';
import { AskedTable, recordOf } from '../../impact/pod-record.js';
import { nextPod, nextPodOptions } from '../../impact/check.js';
import { injectedDifferences } from '../../impact/running.js';
import type { Outdated } from './inventory.js';

/**
 * The fields that differ for an outdated pod, computed once per workload and what its pods asked
 * for; undefined when they cannot be told (the next pod is denied or not injected: status says
 * that on a line of its own; or the pod as listed has no spec).
 */
export function changesOf(
  pods: V1Pod[],
  catalog: Catalog | ((namespace: string) => Catalog),
  options: (namespace: string) => InjectOptions,
): (outdated: Outdated) => string[] | undefined {
  const catalogOf = typeof catalog === 'function' ? catalog : () => catalog;
  const byName = new Map(pods.map((pod) => [`${pod.metadata?.namespace}/${pod.metadata?.name}`, pod]));
  const table = new AskedTable();
  const known = new Map<string, string[] | undefined>();
  return (outdated) => {
    const pod = byName.get(`${outdated.namespace}/${outdated.pod}`);
    const result = recordOf(pod?.metadata, table);
    if (pod?.spec === undefined || !result.ok) return undefined;
    const { kind, name } = outdated.workload;
    const key = `${outdated.namespace}\u0000${kind}\u0000${name}\u0000${result.record.askedKey}`;
    if (known.has(key)) return known.get(key);
    const usage = { namespace: outdated.namespace, workload: { kind, name }, asked: result.record.asked, pods: 1, hashes: [] };
    const next = inject(nextPod(usage), catalogOf(outdated.namespace), nextPodOptions(usage, options));
    const fields = next.outcome === 'injected' ? injectedDifferences(pod as PodLike, next.pod) : undefined;
    known.set(key, fields);
    return fields;
  };
}
