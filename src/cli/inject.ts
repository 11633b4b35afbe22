// `podpattern inject -f FILE|-`: mutated manifests out.
import { formatDocuments, withResults } from './manifests.js';
import type { ManifestResult } from '../engine/manifest.js';
import { guard, processIo, runOnManifests, type Io } from './common.js';

export const usage = `usage: podpattern inject -f FILE|DIR|- [-f …] [-R] [-o yaml|json] [--catalog-dir DIR]
                        [--namespace NS] [--namespace-annotation KEY=VALUE …]
                        [--native-sidecars auto|always|never] [--kube-version 1.30]

Prints the manifests with their pod templates injected: Pods, Deployments, StatefulSets,
DaemonSets, ReplicaSets, ReplicationControllers, DeploymentConfigs, Jobs, CronJobs, PodTemplates
and any other kind with a pod template at spec.template; a kind: List stays a List. Other
objects pass through unchanged. -f repeats; a directory gives its .yaml, .yml and .json files
(-R: and its subdirectories'). YAML output means the same to kubectl (YAML 1.1) as the input.

The cluster is assumed to be Kubernetes 1.30 (the oldest the chart installs on), so native
sidecars are used; --kube-version and --native-sidecars change that, and
--namespace-annotation gives the namespace's default annotations. 'podpattern explain' prints
every assumption.

Warnings go to standard error. A file that cannot be read or holds no Kubernetes objects, a
pod that would be denied, or a manifest whose pod template cannot be injected fails the whole
run (exit 1) and nothing is written.
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const ran = runOnManifests(argv, io, true);
    if (ran.help) return (io.stdout(usage), 0);
    if ('exitCode' in ran) return ran.exitCode;
    const { results } = ran;
    for (const warning of results.flatMap((r) => r.warnings)) io.stderr(`warning: ${warning}\n`);
    const failed = results.filter(failedRun);
    if (failed.length > 0) {
      for (const r of failed) io.stderr(`${r.label}: ${r.refusal ?? (r.result?.outcome === 'denied' ? r.result.message : '')}\n`);
      io.stderr('podpattern: nothing was written\n');
      return 1;
    }
    io.stdout(formatDocuments(withResults(ran.documents, results), ran.output as 'yaml' | 'json'));
    return 0;
  });
}

/** A refused shape or a denied pod fails the run. */
export function failedRun(result: ManifestResult): boolean {
  return result.refusal !== undefined || result.result?.outcome === 'denied';
}
