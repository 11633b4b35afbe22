// `podpattern status`: the inventory of injected pods in the cluster (status/inventory.ts) with
// the workload that owns each flagged pod and the command that rolls it. Exit 1 when a pod is
// outdated or was not injected, so a script can act on it.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod, type V1ReplicaSet } from '#kube';
import type { Finding } from './check/findings.js';
import { clusterCatalog } from './check/pods.js';
import { CLUSTER_FLAGS, parseFlags, processIo, type Io } from './common.js';
import { ClusterError, call, connect, contextNamespace, explainFailure, isNotFound } from './kube/connect.js';
import { formatPolicyViolations, policyViolations } from './status/policy-violations.js';
import { readPolicy } from '../catalog/policy.js';
import { POLICY_GROUP, POLICY_NAME, POLICY_PLURAL, type Policy } from '../model/policy.js';
import { TEMPLATE_VERSION } from '../model/template.js';
import { formatInventory, rollCommand, takeInventory, type Workload } from './status/inventory.js';
import { deniedNext, formatDeniedNext } from './status/denied-next.js';
import { changesOf } from './status/changes.js';
import type { InjectOptions } from '../engine/types.js';
import { namespaceAnnotations } from './templates-diff.js';
import { fetchServerVersion } from '../catalog/kube.js';
import { stageCatalog } from '../impact/staged.js';
import type { Catalog } from '../model/template.js';
import { readServedRevisions } from './kube/revisions.js';
import { formatCanary } from './status/canary.js';

const HELP = `usage: podpattern status [-A | -n NAMESPACE] [--podpattern-namespace NS] [--kubeconfig FILE] [--context NAME]

Lists injected pods by template and template hash; flags pods injected with a template version
the catalog no longer has (and which fields of what they run a new pod would get differently),
and pods that ask for a pattern but were not injected, each with its workload and the command
that rolls it; and the workloads whose next pod the current templates would deny; and running
pods that break their namespace's PatternPolicy (added after they started): a required
template missing, a forbidden one present; and each template in canary (spec.rollout.canary,
its current spec not promoted): the namespaces that get its current spec and the promoted
revision every other namespace gets (a pod is outdated against what its own namespace gets).
Exit 1 when any pod or workload is flagged.
  -A, --all-namespaces   every namespace
  -n, --namespace        one namespace (default: the context's)
  --podpattern-namespace where podpattern runs and keeps the template revisions (default podpattern)
The catalog compared with is the built-in one plus the cluster's PatternTemplates (templates the
server reads from --catalog-dir are not visible here).
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseFlags<{
    namespace?: string;
    'all-namespaces'?: boolean;
    'podpattern-namespace'?: string;
    kubeconfig?: string;
    context?: string;
  }>(
    'status',
    argv,
    {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      ...CLUSTER_FLAGS,
    },
    HELP,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  const values = parsed.values;
  if (values['all-namespaces'] === true && values.namespace !== undefined) {
    io.stderr('podpattern status: give -A or -n, not both\n');
    return 2;
  }
  try {
    const config = connect(values.kubeconfig, values.context);
    const namespace = values['all-namespaces'] === true ? undefined : (values.namespace ?? contextNamespace(config));
    const { text, flagged } = await status(config, namespace, values['podpattern-namespace'] ?? 'podpattern', io);
    io.stdout(text);
    return flagged ? 1 : 0;
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern status: ${error.message}\n`);
    return 1;
  }
}

async function status(
  config: KubeConfig,
  namespace: string | undefined,
  podpatternNamespace: string,
  io: Io,
): Promise<{ text: string; flagged: boolean }> {
  const core = config.makeApiClient(CoreV1Api);
  const where = namespace === undefined ? 'in all namespaces' : `in ${namespace}`;
  const pods = await call(`list pods ${where}`, config, () =>
    namespace === undefined ? core.listPodForAllNamespaces() : core.listNamespacedPod({ namespace }),
  );
  const findings: Finding[] = [];
  const catalog = await clusterCatalog(config, findings);
  for (const finding of findings) io.stderr(`warning: ${finding.message}\n`);
  const replicaSets = await ownersOfReplicaSets(config, pods.items, io);
  const serverVersion = await fetchServerVersion(config).catch(() => undefined);
  const staged = await canaryView(config, catalog, podpatternNamespace, io);
  const inventory = takeInventory(pods.items, staged?.catalogOf ?? catalog, (pod) => workloadOf(pod, replicaSets));
  const namespaces = await namespaceAnnotations(config, io);
  const options = (ns: string): InjectOptions => ({
    nativeSidecars: 'auto',
    namespaceAnnotations: namespaces.get(ns) ?? {},
    ...(serverVersion === undefined ? {} : { serverVersion }),
  });
  const denied = deniedNext(pods.items, catalog, (pod) => workloadOf(pod, replicaSets), options);
  const violations = policyViolations(pods.items, await namespacePolicies(config, namespace, io), (pod) => workloadOf(pod, replicaSets));
  return {
    text:
      formatInventory(inventory, changesOf(pods.items, staged?.catalogOf ?? catalog, options)) +
      formatDeniedNext(denied) +
      formatPolicyViolations(violations) +
      (staged?.text ?? ''),
    flagged: inventory.outdated.length > 0 || inventory.notInjected.length > 0 || denied.length > 0 || violations.length > 0,
  };
}

/**
 * Where a cluster template has a canary: the catalog each namespace's pods get, and the lines that
 * say it. Undefined without one; with a warning when the revisions or namespaces cannot be read.
 */
async function canaryView(
  config: KubeConfig,
  catalog: Catalog,
  podpatternNamespace: string,
  io: Io,
): Promise<{ catalogOf: (namespace: string) => Catalog; text: string } | undefined> {
  if (!catalog.list().some((t) => t.source === 'cluster' && t.rollout?.canary !== undefined)) return undefined;
  const revisions = await readServedRevisions(config, podpatternNamespace);
  if ('problem' in revisions) {
    io.stderr(
      `warning: ${revisions.problem}; templates in canary are judged by their current spec (--podpattern-namespace names where podpattern runs)\n`,
    );
    return undefined;
  }
  const labels = new Map<string, Readonly<Record<string, string>>>();
  try {
    for (const ns of (await config.makeApiClient(CoreV1Api).listNamespace()).items)
      labels.set(ns.metadata?.name ?? '', ns.metadata?.labels ?? {});
  } catch (error) {
    io.stderr(`warning: ${explainFailure(error, 'list namespaces', config)}; templates in canary are judged by their current spec\n`);
    return undefined;
  }
  const staged = new Map<string, Catalog>();
  const catalogOf = (namespace: string): Catalog => {
    let found = staged.get(namespace);
    if (found === undefined) staged.set(namespace, (found = stageCatalog(catalog, revisions, namespace, labels.get(namespace)).catalog));
    return found;
  };
  return { catalogOf, text: formatCanary(catalog, revisions, labels) };
}

/** The readable `default` PatternPolicy of each namespace listed; none (with a warning) when they cannot be listed. */
async function namespacePolicies(config: KubeConfig, namespace: string | undefined, io: Io): Promise<Map<string, Policy>> {
  const custom = config.makeApiClient(CustomObjectsApi);
  const found = new Map<string, Policy>();
  let items: unknown[];
  try {
    const list = (
      namespace === undefined
        ? await custom.listCustomObjectForAllNamespaces({ group: POLICY_GROUP, version: TEMPLATE_VERSION, plural: POLICY_PLURAL })
        : await custom.listNamespacedCustomObject({ group: POLICY_GROUP, version: TEMPLATE_VERSION, namespace, plural: POLICY_PLURAL })
    ) as { items?: unknown[] };
    items = list.items ?? [];
  } catch (error) {
    if (!isNotFound(error))
      io.stderr(`warning: ${explainFailure(error, 'list PatternPolicies', config)}; pods are not checked against them\n`);
    return found;
  }
  for (const item of items) {
    const meta = (item as { metadata?: { name?: string; namespace?: string } }).metadata;
    const read = meta?.name === POLICY_NAME ? readPolicy(item) : undefined;
    if (read?.ok === true && meta?.namespace !== undefined) found.set(meta.namespace, read.policy);
  }
  return found;
}

/** ReplicaSets owning listed pods, by namespace/name, to name their Deployments. Unreadable ones are reported, not fatal. */
async function ownersOfReplicaSets(config: KubeConfig, pods: V1Pod[], io: Io): Promise<Map<string, V1ReplicaSet>> {
  const apps = config.makeApiClient(AppsV1Api);
  const namespaces = new Set(pods.filter((p) => controllerOf(p)?.kind === 'ReplicaSet').map((p) => p.metadata?.namespace ?? ''));
  const found = new Map<string, V1ReplicaSet>();
  for (const namespace of namespaces) {
    try {
      for (const rs of (await apps.listNamespacedReplicaSet({ namespace })).items) found.set(`${namespace}/${rs.metadata?.name}`, rs);
    } catch (error) {
      io.stderr(
        `warning: ${explainFailure(error, `list ReplicaSets in ${namespace}`, config)}; pods there are named by ReplicaSet, not Deployment\n`,
      );
    }
  }
  return found;
}

function controllerOf(object: {
  metadata?: { ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> };
}): { kind: string; name: string } | undefined {
  const references = object.metadata?.ownerReferences ?? [];
  return references.find((r) => r.controller === true) ?? references[0];
}

function workloadOf(pod: V1Pod, replicaSets: Map<string, V1ReplicaSet>): Workload {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  let owner = controllerOf(pod);
  if (owner?.kind === 'ReplicaSet') {
    const rs = replicaSets.get(`${namespace}/${owner.name}`);
    const above = rs === undefined ? undefined : controllerOf(rs);
    if (above?.kind === 'Deployment') owner = above;
  }
  if (owner === undefined) return { kind: 'Pod', name, roll: rollCommand('Pod', name, namespace, name) };
  return { kind: owner.kind, name: owner.name, roll: rollCommand(owner.kind, owner.name, namespace, name) };
}
