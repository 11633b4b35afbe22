// `podpattern check`: is podpattern installed and healthy in the cluster (or, with --pre, can it
// be installed), is a namespace opted in, and would given pods, from files or the cluster, be
// sent to it and injected. One line per check with ok, warn or FAIL
// and, where not ok, how to fix it; exit 1 on any failure (in the style of `linkerd check`).
import type { KubeConfig, V1Namespace } from '#kube';
import type { Catalog } from '../model/template.js';
import { fetchServerVersion } from '../catalog/kube.js';
import type { PodLike } from '../engine/types.js';
import type { ServerVersion } from '../model/server-version.js';
import { objectsOf } from './manifests.js';
import { labelOf, misplacedAnnotations, misplacedMessage } from '../engine/manifest.js';
import { findPodTemplate } from '../engine/pod-template.js';
import { parseArgs } from 'node:util';
import { UsageError, processIo, readAll, usageError, type Io } from './common.js';
import { fail, formatFindings, ok, skip, warn, type Finding } from './check/findings.js';
import { checkPolicy, fetchPolicy } from './check/policy.js';
import type { PolicyView } from '../model/policy.js';
import { parseRef, readObject, type ObjectRef } from './check/objects.js';
import { preflight } from './check/pre.js';
import { checkInstall } from './check/install.js';
import { checkNamespace, checkPod, clusterCatalog, engineOptions, readNamespace } from './check/pods.js';
import { checkChain } from './check/chain.js';
import { ClusterError, connect, contextNamespace, explainFailure } from './kube/connect.js';
import { readServedRevisions } from './kube/revisions.js';
import { stageCatalog } from '../impact/staged.js';
import type { RevisionsView } from '../impact/served-revisions.js';

const HELP = `usage: podpattern check [KIND/NAME …] [-n NAMESPACE] [-f POD.yaml …] [--kubeconfig FILE] [--context NAME]
       podpattern check --pre [-n NAMESPACE] [--kubeconfig FILE] [--context NAME]
       podpattern check --chain [-n NAMESPACE] -f POD.yaml [--kubeconfig FILE] [--context NAME]

Checks podpattern in the cluster the kubeconfig points at, each finding with ok, warn or FAIL
and how to fix it, or "not checked" and why when what it depends on failed; exits 1 when any
check fails.
  always        the API server answers; the webhook configuration exists (or, in webhook-less
                mode, podpattern's MutatingAdmissionPolicies); its Service has ready endpoints;
                its caBundle verifies the serving certificate; the CRD is installed; every
                PatternTemplate is Ready
  -n NAMESPACE  the namespace is labelled for injection, in which mode
  KIND/NAME     a pod or workload in the cluster (pod/web, deploy/web, sts/db, ds/agent,
                rs/web-5d8c7, job/once, cj/nightly), in -n NAMESPACE, else the context's: would
                its pods be sent to podpattern and injected, skipped or denied. One that does not
                exist, or that these credentials may not read: which, and exit 2
  -f FILE       the same for each pod (or workload's pod template) in FILE (in its
                metadata.namespace, else -n, else the context's)
  --pre         before an install: the Kubernetes version against the chart's, the admission
                APIs it uses, MutatingAdmissionPolicy (webhook-less mode), cert-manager, the
                permission to create what the chart creates, an install already there
  --chain       with -f or KIND/NAME: every MutatingAdmissionPolicy and mutating webhook that
                sees each pod, in the API server's order, with timeout, failurePolicy,
                reinvocationPolicy and ready endpoints (a timeout sum over the API server's 30 s
                and a webhook with no ready endpoint are flagged); then a server-side dry run of
                the create through every admission step, and each field of what podpattern
                adds that the stored pod has otherwise, attributed to another admission step,
                with its path. Without permission to create pods in the namespace (a dry run
                needs it): which permission, and exit 2
  --kubeconfig, --context   which cluster (default: KUBECONFIG, ~/.kube/config, else in-cluster)
`;

const FLAGS = {
  namespace: { type: 'string', short: 'n' },
  filename: { type: 'string', short: 'f', multiple: true },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  pre: { type: 'boolean' },
  chain: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let values: {
    namespace?: string;
    filename?: string[];
    kubeconfig?: string;
    context?: string;
    pre?: boolean;
    chain?: boolean;
    help?: boolean;
  };
  let refs: ObjectRef[];
  try {
    const parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
    values = parsed.values;
    if (values.help === true) return (io.stdout(HELP), 0);
    refs = parsed.positionals.map(parseRef);
    checkModes(values, refs);
  } catch (error) {
    io.stderr(usageError('check', (error as Error).message));
    return 2;
  }
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
  // The objects named first: one that is absent or unreadable stops the command (exit 2).
  const namespace = values.namespace ?? contextNamespace(config);
  for (const ref of refs) {
    try {
      const object = await readObject(config, ref, namespace);
      const found = findPodTemplate(object);
      if ('found' in found)
        pods.push({
          label: labelOf(object),
          namespace,
          pod: found.template,
          ...(found.found.runsToCompletion ? { runsToCompletion: true } : {}),
        });
      else io.stderr(`podpattern check: ${ref.text} has no pod template to check\n`);
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      io.stderr(`podpattern check: ${error.message}\n`);
      return 2;
    }
  }
  let findings: Finding[];
  try {
    findings = values.pre === true ? await precheck(config, namespace) : await check(config, values.namespace, pods, values.chain === true);
  } catch (error) {
    // --chain without permission to dry-run: which permission, as for an unreadable object.
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern check: ${error.message}\n`);
    return 2;
  }
  io.stdout(formatFindings(findings));
  return findings.some((f) => f.level === 'fail') ? 1 : 0;
}

/** --pre takes no pods; --chain needs some. */
function checkModes(values: { filename?: string[]; pre?: boolean; chain?: boolean }, refs: ObjectRef[]): void {
  const pods = refs.length > 0 || (values.filename ?? []).length > 0;
  if (values.pre === true && pods) throw new UsageError('--pre checks the cluster before an install: give it no pods or workloads');
  if (values.chain === true && (values.pre === true || !pods))
    throw new UsageError('--chain follows pods through admission: give it -f POD.yaml or KIND/NAME, without --pre');
}

async function precheck(config: KubeConfig, namespace: string): Promise<Finding[]> {
  let version: ServerVersion;
  try {
    version = await fetchServerVersion(config);
  } catch (error) {
    return [
      fail(
        'Kubernetes API',
        explainFailure(error, 'reach the API server', config),
        'check the kubeconfig context (kubectl config current-context) and that the cluster is up',
      ),
    ];
  }
  return [ok('Kubernetes API', `${config.getCurrentCluster()?.server} answers`), ...(await preflight(config, version, namespace))];
}

interface PodInput {
  label: string;
  namespace: string | undefined;
  pod: PodLike;
  /** A Job's or CronJob's pods: they must finish. */
  runsToCompletion?: boolean;
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
    const misplaced = misplacedAnnotations(object as { metadata?: { annotations?: unknown } }, found.found.path).map((key) =>
      misplacedMessage(key, found.found.path),
    );
    return [
      {
        label: labelOf(object),
        namespace: typeof namespace === 'string' ? namespace : undefined,
        pod: found.template,
        misplaced,
        ...(found.found.runsToCompletion ? { runsToCompletion: true } : {}),
      },
    ];
  });
}

export async function check(config: KubeConfig, namespace: string | undefined, pods: PodInput[], chain = false): Promise<Finding[]> {
  let version: ServerVersion;
  try {
    version = await fetchServerVersion(config);
  } catch (error) {
    // Nothing else can be checked: one line, not one per check.
    return [
      fail(
        'Kubernetes API',
        explainFailure(error, 'reach the API server', config),
        'check the kubeconfig context (kubectl config current-context) and that the cluster is up',
      ),
    ];
  }
  const findings: Finding[] = [
    ok('Kubernetes API', `${config.getCurrentCluster()?.server} answers (Kubernetes ${version.major}.${version.minor})`),
  ];
  const report = await checkInstall(config);
  findings.push(...report.findings);
  const selectors = report.selectors;
  const why = 'there is neither a podpattern webhook configuration nor a bound podpattern admission policy to select pods (above)';
  const namespaces = new Set<string>();
  if (namespace !== undefined) namespaces.add(namespace);
  for (const pod of pods) namespaces.add(pod.namespace ?? namespace ?? contextNamespace(config));
  const read = new Map<string, Awaited<ReturnType<typeof readNamespace>>>();
  const policies = new Map<string, PolicyView>();
  for (const name of namespaces) {
    const object = await readNamespace(config, name, findings);
    read.set(name, object);
    if (object === undefined) continue;
    findings.push(selectors === undefined ? skip(`namespace ${name}`, why) : checkNamespace(object, selectors));
    if (selectors === undefined) continue;
    const fetched = await fetchPolicy(config, name);
    const policy =
      fetched.finding === undefined
        ? checkPolicy(object, fetched.object, undefined)
        : { finding: fetched.finding, policy: 'unreadable' as const };
    findings.push(policy.finding);
    policies.set(name, policy.policy);
  }
  if (pods.length > 0) {
    const catalog = selectors === undefined ? undefined : await clusterCatalog(config, findings);
    const revisions = await canaryRevisions(config, catalog, report, findings);
    const context = {
      selectors,
      catalog,
      revisions,
      read,
      policies,
      version,
      why,
      namespaceOf: (pod: PodInput) => pod.namespace ?? namespace ?? contextNamespace(config),
    };
    for (const pod of pods) findings.push(...podFindings(pod, context));
    if (chain && catalog !== undefined) for (const pod of pods) findings.push(...(await chainFindings(config, pod, context)));
  }
  return findings;
}

/**
 * The template revisions in podpattern's namespace, when a cluster template has a canary: which
 * revision each namespace gets. Unreadable: said, and pods are judged with the current specs.
 */
async function canaryRevisions(
  config: KubeConfig,
  catalog: Catalog | undefined,
  report: Awaited<ReturnType<typeof checkInstall>>,
  findings: Finding[],
): Promise<RevisionsView | undefined> {
  if (catalog?.list().some((t) => t.source === 'cluster' && t.rollout?.canary !== undefined) !== true) return undefined;
  const read = await readServedRevisions(config, report.install?.service.namespace ?? 'podpattern');
  if ('problem' in read) {
    findings.push(
      warn(
        'revisions',
        `${read.problem}; pods are judged with the current spec of each template in canary, which only its canary namespaces get`,
      ),
    );
    return undefined;
  }
  return read;
}

/** One pod's findings: misplaced annotations first, then its verdict, or why it was not checked. */
function podFindings(
  pod: PodInput,
  context: {
    selectors: Parameters<typeof checkNamespace>[1] | undefined;
    catalog: Awaited<ReturnType<typeof clusterCatalog>> | undefined;
    revisions: RevisionsView | undefined;
    read: Map<string, Awaited<ReturnType<typeof readNamespace>>>;
    policies: Map<string, PolicyView>;
    version: ServerVersion;
    why: string;
    namespaceOf: (pod: PodInput) => string;
  },
): Finding[] {
  const { selectors, catalog, version, why } = context;
  // The commonest "why was my pod not injected": said first, as the verdict below follows from it.
  const findings = (pod.misplaced ?? []).map((message) =>
    warn(`pod ${pod.label}`, message, 'podpattern reads only the annotations of the pods the workload creates'),
  );
  const name = context.namespaceOf(pod);
  const object = context.read.get(name);
  if (catalog === undefined || selectors === undefined) findings.push(skip(`pod ${pod.label}`, why));
  else if (object === undefined) findings.push(skip(`pod ${pod.label}`, `namespace ${name} could not be read (above)`));
  else {
    const staged =
      context.revisions === undefined ? undefined : stageCatalog(catalog, context.revisions, name, object.metadata?.labels ?? {});
    findings.push(
      ...checkPod(pod.label, pod.pod, {
        webhooks: selectors,
        namespace: object,
        catalog: staged?.catalog ?? catalog,
        serverVersion: version,
        policy: context.policies.get(name),
        ...(pod.runsToCompletion === true ? { runsToCompletion: true } : {}),
        ...(staged === undefined ? {} : { staged: staged.choices }),
      }),
    );
  }
  return findings;
}

/** --chain: the pod's admission steps and its dry run, or why they were not checked. */
async function chainFindings(
  config: KubeConfig,
  pod: PodInput,
  context: {
    catalog: Catalog | undefined;
    read: Map<string, V1Namespace | undefined>;
    version: ServerVersion;
    namespaceOf: (pod: PodInput) => string;
  },
): Promise<Finding[]> {
  const name = context.namespaceOf(pod);
  const namespace = context.read.get(name);
  if (namespace === undefined || context.catalog === undefined)
    return [skip(`chain ${pod.label}`, `namespace ${name} could not be read (above)`)];
  const options = engineOptions(name, {
    namespace,
    serverVersion: context.version,
    ...(pod.runsToCompletion === true ? { runsToCompletion: true } : {}),
  });
  return checkChain(config, { label: pod.label, namespace, pod: pod.pod, catalog: context.catalog, options });
}
