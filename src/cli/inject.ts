// `podpattern inject -f FILE|-`: mutated manifests out (SPEC §7).
import { formatManifests } from './manifests.js';
import { guard, processIo, runOnManifests, type Io } from './common.js';

export const usage = `usage: podpattern inject -f FILE|- [-o yaml|json] [--catalog-dir DIR] [--namespace NS]
                        [--native-sidecars auto|always|never] [--kube-version 1.30]

Prints the manifests with their pod templates injected: Pods, Deployments, StatefulSets,
DaemonSets, ReplicaSets, Jobs and CronJobs; anything else passes through unchanged.
Warnings go to standard error. A pod that would be denied fails the whole run (exit 1).
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const ran = runOnManifests(argv, io, true);
    if (ran.help) return (io.stdout(usage), 0);
    if ('exitCode' in ran) return ran.exitCode;
    const { results } = ran;
    for (const warning of results.flatMap((r) => r.warnings)) io.stderr(`warning: ${warning}\n`);
    const denied = results.filter((r) => r.result?.outcome === 'denied');
    if (denied.length > 0) {
      for (const r of denied) if (r.result?.outcome === 'denied') io.stderr(`${r.label}: ${r.result.message}\n`);
      return 1;
    }
    io.stdout(formatManifests(results.map((r) => r.object), ran.output as 'yaml' | 'json'));
    return 0;
  });
}
