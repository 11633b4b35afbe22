// `podpattern templates history NAME`: the revisions kept of a cluster PatternTemplate (the
// ControllerRevisions the server writes in its own namespace, src/impact/revisions.ts), newest
// first: revision, content hash, when it was accepted, and how many pods still run it.
import { kubeRevisionStore } from '../impact/revisions-kube.js';
import { STATUS_KEY } from '../model/keys.js';
import { parseTemplateArguments, processIo, type Io } from './common.js';
import { ClusterError, call, connect } from './kube/connect.js';
import { readIndex } from './templates-diff.js';

const HELP = `usage: podpattern templates history NAME [--podpattern-namespace NS] [--kubeconfig FILE] [--context NAME]

The revisions kept of the cluster PatternTemplate NAME (the last 10), newest first: revision,
content hash (what pods record in ${STATUS_KEY}), when it was accepted, and the pods
still running it.
  --podpattern-namespace   where podpattern runs and keeps the revisions (default podpattern)
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseTemplateArguments('templates history', argv, HELP, io);
  if ('exit' in parsed) return parsed.exit;
  const { name, podpatternNamespace: namespace } = parsed;
  try {
    const config = connect(parsed.kubeconfig, parsed.context);
    const revisions = await call(`list ControllerRevisions in ${namespace}`, config, () => kubeRevisionStore(config, namespace).list(name));
    const running = (await readIndex(config)).podsByHash(name);
    if (revisions.length === 0) {
      io.stderr(
        `podpattern templates history: no revisions of ${name} in ${namespace} (is it a cluster template, and is podpattern running there?)\n`,
      );
      return 1;
    }
    const rows = [
      ['REVISION', 'HASH', 'ACCEPTED', 'PODS'],
      ...revisions
        .sort((a, b) => b.revision - a.revision)
        .map((r) => [String(r.revision), r.hash, r.created ?? '-', String(running.get(r.hash) ?? 0)]),
    ];
    const unknown = [...running].filter(([hash]) => !revisions.some((r) => r.hash === hash));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    io.stdout(
      `${rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n')}\n`,
    );
    for (const [hash, pods] of unknown) io.stdout(`${pods} pod(s) run ${hash}, a version no longer kept\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern templates history: ${error.message}\n`);
    return 1;
  }
}
