// `podpattern inject -f FILE|-`: mutated manifests out (SPEC §7).
import { parseArgs } from 'node:util';
import { ManifestError, formatManifests, injectManifest, parseManifests } from './manifests.js';
import { UsageError, engineOptions, guard, loadCatalog, processIo, readInput, type Io } from './common.js';

export const usage = `usage: podpattern inject -f FILE|- [-o yaml|json] [--catalog-dir DIR] [--namespace NS]
                        [--native-sidecars auto|always|never] [--kube-version 1.30]

Prints the manifests with their pod templates injected: Pods, Deployments, StatefulSets,
DaemonSets, ReplicaSets, Jobs and CronJobs; anything else passes through unchanged.
Warnings go to standard error. A pod that would be denied fails the whole run (exit 1).
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        filename: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o', default: 'yaml' },
        'catalog-dir': { type: 'string' },
        namespace: { type: 'string' },
        'native-sidecars': { type: 'string' },
        'kube-version': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) return (io.stdout(usage), 0);
    if (values.output !== 'yaml' && values.output !== 'json') throw new UsageError(`-o must be yaml or json, got '${values.output}'`);
    const options = engineOptions(values);
    const catalog = loadCatalog(values['catalog-dir'], io);
    let objects: unknown[];
    try {
      objects = parseManifests(readInput(values.filename, io));
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      io.stderr(`podpattern: cannot parse ${values.filename}: ${error.message}\n`);
      return 1;
    }
    const results = objects.map((object) => injectManifest(object, catalog, options));
    for (const warning of results.flatMap((r) => r.warnings)) io.stderr(`warning: ${warning}\n`);
    const denied = results.filter((r) => r.result?.outcome === 'denied');
    if (denied.length > 0) {
      for (const r of denied) if (r.result?.outcome === 'denied') io.stderr(`${r.label}: ${r.result.message}\n`);
      return 1;
    }
    io.stdout(formatManifests(results.map((r) => r.object), values.output));
    return 0;
  });
}


