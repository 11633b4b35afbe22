// `podpattern check --chain`: every mutating admission step a pod goes through, in the API
// server's order, and what the steps after podpattern did to what podpattern added.
//
// The API server runs the MutatingAdmissionPolicy plugin, then the MutatingAdmissionWebhook
// plugin (kube-apiserver's ordered admission plugins); webhooks are called configuration by
// configuration in name order, each configuration's webhooks in the order listed (Kubernetes
// docs, "Dynamic Admission Control"). Its whole request, webhooks included, has 30 s
// (the API server's request timeout) before the client hears a timeout. The pod is created with a
// server-side dry run (dryRun=All: every admission step runs, nothing is stored), and what
// podpattern added in it is compared, field by field, with what the offline engine adds.
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type V1LabelSelector,
  type V1MatchCondition,
  type V1MutatingWebhook,
  type V1Namespace,
  type V1RuleWithOperations,
} from '#kube';
import { inject } from '../../engine/index.js';
import { readStatus } from '../../engine/status.js';
import type { InjectOptions, PodLike } from '../../engine/types.js';
import type { Catalog } from '../../model/template.js';
import { STATUS_KEY } from '../../model/keys.js';
import { ClusterError, explainFailure, isNotFound } from '../kube/connect.js';
import { failedCondition, selectorMatches } from '../kube/selectors.js';
import { fail, ok, warn, type Finding } from './findings.js';

/** The API server's budget for one request, webhooks included (kube-apiserver --request-timeout, 60 s, caps it; clients time out at 30 s). */
export const REQUEST_BUDGET_SECONDS = 30;

/** One mutating step that sees the pod. */
export interface Step {
  kind: 'mutating webhook' | 'MutatingAdmissionPolicy';
  name: string;
  /** Webhooks only: seconds the API server waits for it (10 unless set). */
  timeoutSeconds?: number;
  failurePolicy: string;
  reinvocationPolicy: string;
  /** Webhooks with a Service: its ready endpoints; undefined for a URL webhook or a policy. */
  readyEndpoints?: number;
  where: string;
}

export interface ChainInput {
  label: string;
  namespace: V1Namespace;
  pod: PodLike;
  catalog: Catalog;
  options: InjectOptions;
}

/** The pod's chain: the steps that see it, what the dry run did, and what changed of podpattern's. Throws ClusterError (exit 2) when the dry run is not permitted. */
export async function checkChain(config: KubeConfig, input: ChainInput): Promise<Finding[]> {
  const check = `chain ${input.label}`;
  const namespace = input.namespace.metadata?.name ?? 'default';
  const findings: Finding[] = [];
  const steps = [...(await matchingPolicies(config, input, findings)), ...(await matchingWebhooks(config, input, findings))];
  findings.push(...describeSteps(check, steps));
  const dryRun = await createDryRun(config, namespace, podToCreate(input.pod, namespace));
  if ('denied' in dryRun) {
    findings.push(
      fail(
        check,
        `the API server refuses the pod (server-side dry run): ${dryRun.denied}`,
        'the message names the admission step that refused it',
      ),
    );
    return findings;
  }
  findings.push(...compareWithEngine(check, input, dryRun.pod));
  return findings;
}

/** One line per step, in order, then the chain's own problems: its timeouts over the budget. */
export function describeSteps(check: string, steps: Step[]): Finding[] {
  if (steps.length === 0)
    return [warn(check, 'no mutating webhook or MutatingAdmissionPolicy matches this pod: podpattern does not see it')];
  const findings = steps.map((step, i) => {
    const timeout = step.timeoutSeconds === undefined ? '' : `timeout ${step.timeoutSeconds}s, `;
    const text = `${i + 1}. ${step.kind} ${step.name}: ${timeout}failurePolicy ${step.failurePolicy}, reinvocationPolicy ${step.reinvocationPolicy}, ${step.where}`;
    if (step.readyEndpoints !== 0) return ok(check, text);
    const effect =
      step.failurePolicy === 'Ignore'
        ? 'the API server skips it (failurePolicy Ignore), so the pod goes without what it adds'
        : 'the API server refuses the pod (failurePolicy Fail)';
    const problem = `${text}: no ready endpoint, ${effect}`;
    return step.failurePolicy === 'Ignore'
      ? warn(check, problem, "start the webhook's pods, or delete its configuration if it is gone")
      : fail(check, problem, "start the webhook's pods, or delete its configuration if it is gone");
  });
  const total = steps.reduce((sum, s) => sum + (s.timeoutSeconds ?? 0), 0);
  if (total > REQUEST_BUDGET_SECONDS) {
    findings.push(
      warn(
        check,
        `the matching webhooks' timeouts add up to ${total}s, over the API server's ${REQUEST_BUDGET_SECONDS}s for a request: if they are slow together, the create times out before the last one answers`,
        'lower timeoutSeconds of the webhooks that need less',
      ),
    );
  }
  return findings;
}

/** Whether a rule list admits CREATE of core/v1 pods. */
function rulesMatchPods(rules: V1RuleWithOperations[] | undefined): boolean {
  const has = (list: string[] | undefined, value: string): boolean => (list ?? []).some((x) => x === '*' || x === value);
  return (rules ?? []).some(
    (r) =>
      has(r.operations, 'CREATE') &&
      has(r.apiGroups, '') &&
      has(r.apiVersions, 'v1') &&
      (r.resources ?? []).some((x) => x === '*' || x === '*/*' || x === 'pods'),
  );
}

/** Whether a step with these selectors and conditions sees the pod. */
function sees(
  input: ChainInput,
  selectors: { namespaceSelector?: V1LabelSelector; objectSelector?: V1LabelSelector; matchConditions?: V1MatchCondition[] },
): boolean {
  const name = input.namespace.metadata?.name ?? 'default';
  const labels = { 'kubernetes.io/metadata.name': name, ...input.namespace.metadata?.labels };
  if (!selectorMatches(selectors.namespaceSelector, labels) || !selectorMatches(selectors.objectSelector, input.pod.metadata?.labels ?? {}))
    return false;
  const pod = { ...input.pod, metadata: { namespace: name, ...input.pod.metadata } };
  return failedCondition(selectors.matchConditions, pod, name) === undefined;
}

async function matchingWebhooks(config: KubeConfig, input: ChainInput, findings: Finding[]): Promise<Step[]> {
  let configurations;
  try {
    configurations = (await config.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration()).items;
  } catch (error) {
    findings.push(
      fail(
        `chain ${input.label}`,
        explainFailure(error, 'list MutatingWebhookConfigurations', config),
        'ask for list on mutatingwebhookconfigurations.admissionregistration.k8s.io',
      ),
    );
    return [];
  }
  const steps: Step[] = [];
  const sorted = [...configurations].sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
  for (const configuration of sorted) {
    for (const webhook of configuration.webhooks ?? []) {
      if (!rulesMatchPods(webhook.rules) || !sees(input, webhook)) continue;
      steps.push(await webhookStep(config, `${configuration.metadata?.name ?? '?'}/${webhook.name}`, webhook));
    }
  }
  return steps;
}

async function webhookStep(config: KubeConfig, name: string, webhook: V1MutatingWebhook): Promise<Step> {
  const step: Step = {
    kind: 'mutating webhook',
    name,
    timeoutSeconds: webhook.timeoutSeconds ?? 10,
    failurePolicy: webhook.failurePolicy ?? 'Fail',
    reinvocationPolicy: webhook.reinvocationPolicy ?? 'Never',
    where: '',
  };
  const service = webhook.clientConfig.service;
  if (service === undefined) return { ...step, where: `calls ${webhook.clientConfig.url ?? 'no URL'} (a URL: endpoints not checked)` };
  try {
    const slices = await config
      .makeApiClient(DiscoveryV1Api)
      .listNamespacedEndpointSlice({ namespace: service.namespace, labelSelector: `kubernetes.io/service-name=${service.name}` });
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    return { ...step, readyEndpoints: ready, where: `Service ${service.namespace}/${service.name} with ${ready} ready endpoint(s)` };
  } catch (error) {
    return { ...step, where: `Service ${service.namespace}/${service.name} (${explainFailure(error, 'read its endpoints', config)})` };
  }
}

/** The served versions of MutatingAdmissionPolicy, newest first. */
const POLICY_VERSIONS = ['v1', 'v1beta1', 'v1alpha1'];

interface PolicyObject {
  metadata?: { name?: string };
  spec?: {
    failurePolicy?: string;
    reinvocationPolicy?: string;
    matchConstraints?: { resourceRules?: V1RuleWithOperations[]; namespaceSelector?: V1LabelSelector; objectSelector?: V1LabelSelector };
    matchConditions?: V1MatchCondition[];
    policyName?: string;
    matchResources?: { namespaceSelector?: V1LabelSelector; objectSelector?: V1LabelSelector };
  };
}

async function matchingPolicies(config: KubeConfig, input: ChainInput, findings: Finding[]): Promise<Step[]> {
  const api = config.makeApiClient(CustomObjectsApi);
  const group = 'admissionregistration.k8s.io';
  for (const version of POLICY_VERSIONS) {
    let policies: PolicyObject[];
    let bindings: PolicyObject[];
    try {
      policies = ((await api.listClusterCustomObject({ group, version, plural: 'mutatingadmissionpolicies' })) as { items: PolicyObject[] })
        .items;
      bindings = (
        (await api.listClusterCustomObject({ group, version, plural: 'mutatingadmissionpolicybindings' })) as { items: PolicyObject[] }
      ).items;
    } catch (error) {
      if (isNotFound(error)) continue; // not served in this version (or at all)
      findings.push(
        warn(
          `chain ${input.label}`,
          `${explainFailure(error, `list MutatingAdmissionPolicies (${version})`, config)}; they are left out of the chain`,
        ),
      );
      return [];
    }
    const sorted = [...policies].sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1));
    return sorted.flatMap((policy) => {
      const spec = policy.spec ?? {};
      const constraints = spec.matchConstraints ?? {};
      if (!rulesMatchPods(constraints.resourceRules) || !sees(input, { ...constraints, matchConditions: spec.matchConditions })) return [];
      const bound = bindings.filter((b) => b.spec?.policyName === policy.metadata?.name && sees(input, b.spec?.matchResources ?? {}));
      if (bound.length === 0) return [];
      return [
        {
          kind: 'MutatingAdmissionPolicy' as const,
          name: policy.metadata?.name ?? '?',
          failurePolicy: spec.failurePolicy ?? 'Fail',
          reinvocationPolicy: spec.reinvocationPolicy ?? 'Never',
          where: `bound by ${bound.map((b) => b.metadata?.name ?? '?').join(', ')} (runs in the API server)`,
        },
      ];
    });
  }
  return [];
}

/** The pod as a client would create it in `namespace`: a pod template gets a generated name. */
function podToCreate(pod: PodLike, namespace: string): PodLike {
  const metadata = { ...structuredClone(pod.metadata ?? {}), namespace };
  if (metadata.name === undefined && metadata.generateName === undefined) metadata.generateName = 'podpattern-check-';
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(pod.spec) };
}

/** A server-side dry run of the create: the pod as stored after every admission step, or the refusal. */
async function createDryRun(config: KubeConfig, namespace: string, pod: PodLike): Promise<{ pod: PodLike } | { denied: string }> {
  try {
    return { pod: (await config.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: pod, dryRun: 'All' })) as PodLike };
  } catch (error) {
    const message = error instanceof ApiException ? explainFailure(error, 'create the pod', config) : undefined;
    // RBAC's refusal says who cannot do what; an admission step's names the step.
    if (error instanceof ApiException && error.code === 403 && /cannot create resource "pods"/.test(message ?? '')) {
      throw new ClusterError(
        `cannot dry-run the pod in namespace ${namespace}: a server-side dry run needs permission to create pods there (verb create on pods, in namespace ${namespace}); ask for it (RBAC) or use a context that has it`,
      );
    }
    if (message === undefined) throw new ClusterError(explainFailure(error, `dry-run the pod in namespace ${namespace}`, config));
    return { denied: message.replace(/^cannot create the pod: /, '') };
  }
}

/** What the offline engine adds, against what the dry run stored: each difference with its path. */
export function compareWithEngine(check: string, input: ChainInput, stored: PodLike): Finding[] {
  const result = inject(structuredClone(input.pod), input.catalog, input.options);
  if (result.outcome !== 'injected') {
    const offline = result.outcome === 'denied' ? `denied (${result.reason})` : `left unchanged (${result.reason})`;
    return [ok(check, `the offline engine would leave this pod ${offline}; nothing of podpattern's to compare`)];
  }
  if (readStatus(stored.metadata?.annotations ?? {}) === undefined) {
    return [
      fail(
        check,
        `the dry run's pod carries no ${STATUS_KEY}: podpattern did not inject it in the API server (the webhook was not called, failed open, or a later step took its record out), though the offline engine injects ${result.templates.map((t) => t.name).join(', ')}`,
        'see the steps above: a podpattern webhook with no ready endpoint, or one that does not match this pod',
      ),
    ];
  }
  const differences = addedDifferences(result.pod, stored, readStatus(result.pod.metadata?.annotations ?? {}));
  if (differences.length === 0)
    return [
      ok(
        check,
        `what podpattern adds (${result.templates.map((t) => t.name).join(', ')}) is in the dry run's pod as the offline engine adds it`,
      ),
    ];
  const shown = differences.slice(0, 20).map((d) => `another admission step changed ${d}`);
  if (differences.length > 20) shown.push(`… and ${differences.length - 20} more`);
  return [
    fail(
      check,
      `what podpattern added differs in the dry run's pod:\n${shown.join('\n')}`,
      "find the step above that edits it (one after podpattern, or one that reinvokes) and exclude podpattern's containers from it",
    ),
  ];
}

/** The paths at which the stored pod differs from the engine's in what the status says podpattern added. */
function addedDifferences(expected: PodLike, stored: PodLike, status: ReturnType<typeof readStatus>): string[] {
  if (status === undefined || status === 'unreadable') return [];
  const out: string[] = [];
  const lists = ['initContainers', 'containers'] as const;
  const find = (pod: PodLike, name: string): { list: string; container: Record<string, unknown> } | undefined => {
    for (const list of lists) {
      const container = (pod.spec?.[list] ?? []).find((c) => c.name === name);
      if (container !== undefined) return { list, container: container as unknown as Record<string, unknown> };
    }
    return undefined;
  };
  for (const name of [...status.initContainers, ...status.containers]) {
    const want = find(expected, name);
    const got = find(stored, name);
    if (want === undefined) continue;
    const path = `spec.${want.list}[name=${name}]`;
    if (got === undefined) out.push(`${path}: podpattern adds it, the stored pod has no container of that name`);
    else if (got.list !== want.list)
      out.push(`${path}: podpattern adds it to spec.${want.list}, the stored pod has it in spec.${got.list}`);
    else walk(want.container, got.container, path, out);
  }
  for (const name of status.volumes) {
    const want = (expected.spec?.volumes ?? []).find((v) => v.name === name);
    const got = (stored.spec?.volumes ?? []).find((v) => v.name === name);
    if (want !== undefined) walk(want, got, `spec.volumes[name=${name}]`, out);
  }
  for (const key of status.annotations)
    walk(expected.metadata?.annotations?.[key], stored.metadata?.annotations?.[key], `metadata.annotations[${key}]`, out);
  return out;
}

/** Fields whose `false` the API server omits (plain Go bools with omitempty). */
const OMITTED_FALSE = new Set(['readOnly', 'stdin', 'stdinOnce', 'tty']);

/**
 * Adds to `out` each path where `actual` lacks or changes what `expected` sets. The API server
 * adds defaults and canonicalises quantities: fields we do not set are not compared, an empty
 * value equals an absent one, and resources are left to the LimitRange checks.
 */
function walk(expected: unknown, actual: unknown, path: string, out: string[]): void {
  if (expected === undefined || (isEmpty(expected) && (actual === undefined || isEmpty(actual)))) return;
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length <= actual.length) {
    expected.forEach((item, i) => walk(item, actual[i], `${path}[${i}]`, out));
    return;
  }
  if (isObject(expected) && isObject(actual)) {
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'resources' || (value === false && actual[key] === undefined && OMITTED_FALSE.has(key))) continue;
      walk(value, actual[key], `${path}.${key}`, out);
    }
    return;
  }
  if (JSON.stringify(expected) === JSON.stringify(actual)) return;
  out.push(`${path}: podpattern sets ${show(expected)}, the stored pod has ${actual === undefined ? 'none' : show(actual)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isEmpty(value: unknown): boolean {
  return value === '' || (Array.isArray(value) && value.length === 0) || (isObject(value) && Object.keys(value).length === 0);
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
