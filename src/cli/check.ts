// `podpattern check`: is podpattern installed and healthy in the cluster, is a namespace opted
// in, and would given pods be sent to it and injected. One line per check with ok, warn or FAIL
// and, where not ok, how to fix it; exit 1 on any failure (in the style of `linkerd check`).
import type { KubeConfig } from '@kubernetes/client-node';
import { fetchServerVersion } from '../catalog/kube.js';
import type { PodLike } from '../engine/types.js';
import type { ServerVersion } from '../model/server-version.js';
import { labelOf, misplacedAnnotations, misplacedMessage, objectsOf } from './manifests.js';
import { findPodTemplate } from './pod-template.js';
import { parseFlags, processIo, readAll, type Io } from './common.js';
import { fail, formatFindings, ok, warn, type Finding } from './check/findings.js';
import { checkInstall } from './check/install.js';
import { checkNamespace, checkPod, clusterCatalog, readNamespace } from './check/pods.js';
import { ClusterError, connect, contextNamespace, explainFailure } from './kube/connect.js';

const HELP = `usage: podpattern check [-n NAMESPACE] [-f POD.yaml …] [--kubeconfig FILE] [--context NAME]

Checks podpattern in the cluster the kubeconfig points at, each finding with ok, warn or FAIL
and how to fix it; exits 1 when any check fails.
  always        the API server answers; the webhook configuration exists; its Service has ready
                endpoints; its caBundle verifies the serving certificate; the CRD is installed;
                every PatternTemplate is Ready
  -n NAMESPACE  the namespace is labelled for injection, in which mode
  -f FILE       for each pod (or workload's pod template) in FILE: would the API server send it
                to podpattern (namespace and object selectors, matchConditions) and would it be
                injected, skipped or denied (in its metadata.namespace, else -n, else the context's)
  --kubeconfig, --context   which cluster (default: KUBECONFIG, ~/.kube/config, else in-cluster)
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseFlags<{ namespace?: string; filename?: string[]; kubeconfig?: string; context?: string }>('check', argv, { namespace: { type: 'string', short: 'n' }, filename: { type: 'string', short: 'f', multiple: true }, kubeconfig: { type: 'string' }, context: { type: 'string' } }, HELP, io);
  if ('exit' in parsed) return parsed.exit;
  const values = parsed.values;
  const pods = readPods(values.filename ?? [], io);
  if (pods === undefined) return 2;
  let config: KubeConfig;
  try {
    config = connect(values.kubeconfig, values.context);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern check: ${error.message}\n`);
    return 1;
  }
  const findings = await check(config, values.namespace, pods);
  io.stdout(formatFindings(findings));
  return findings.some((f) => f.level === 'fail') ? 1 : 0;
}

interface PodInput {
  label: string;
  namespace: string | undefined;
  pod: PodLike;
  /** Podpattern annotations on the workload's own metadata, each said as a warning. */
  misplaced?: string[];
}

/** The pods (and pod templates) of the -f files; undefined after reporting a file that cannot be read. */
function readPods(files: string[], io: Io): PodInput[] | undefined {
  if (files.length === 0) return [];
  const { documents, problems } = readAll(files, false, io);
  for (const problem of problems) io.stderr(`podpattern check: ${problem}\n`);
  if (problems.length > 0) return undefined;
  return objectsOf(documents).flatMap((object) => {
    const found = findPodTemplate(object);
    if (!('found' in found)) return [];
    const namespace = (object as { metadata?: { namespace?: unknown } }).metadata?.namespace;
    const misplaced = misplacedAnnotations(object as { metadata?: { annotations?: unknown } }, found.found.path).map((key) => misplacedMessage(key, found.found.path));
    return [{ label: labelOf(object), namespace: typeof namespace === 'string' ? namespace : undefined, pod: found.template, misplaced }];
  });
}

export async function check(config: KubeConfig, namespace: string | undefined, pods: PodInput[]): Promise<Finding[]> {
  let version: ServerVersion;
  try {
    version = await fetchServerVersion(config);
  } catch (error) {
    // Nothing else can be checked: one line, not one per check.
    return [fail('Kubernetes API', explainFailure(error, 'reach the API server', config), 'check the kubeconfig context (kubectl config current-context) and that the cluster is up')];
  }
  const findings: Finding[] = [ok('Kubernetes API', `${config.getCurrentCluster()?.server} answers (Kubernetes ${version.major}.${version.minor})`)];
  const report = await checkInstall(config);
  findings.push(...report.findings);
  const webhooks = report.install?.webhooks ?? [];
  const namespaces = new Set<string>();
  if (namespace !== undefined) namespaces.add(namespace);
  for (const pod of pods) namespaces.add(pod.namespace ?? namespace ?? contextNamespace(config));
  const read = new Map<string, Awaited<ReturnType<typeof readNamespace>>>();
  for (const name of namespaces) {
    const object = await readNamespace(config, name, findings);
    read.set(name, object);
    if (object !== undefined && report.install !== undefined) findings.push(checkNamespace(object, webhooks));
  }
  if (pods.length > 0 && report.install !== undefined) {
    const catalog = await clusterCatalog(config, findings);
    for (const pod of pods) {
      // The commonest "why was my pod not injected": said first, as the verdict below follows from it.
      for (const message of pod.misplaced ?? []) findings.push(warn(`pod ${pod.label}`, message, 'podpattern reads only the annotations of the pods the workload creates'));
      const object = read.get(pod.namespace ?? namespace ?? contextNamespace(config));
      if (object !== undefined) findings.push(...checkPod(pod.label, pod.pod, { webhooks, namespace: object, catalog, serverVersion: version }));
    }
  }
  return findings;
}
