// The namespace and pod checks of `podpattern check`: is the namespace opted in and how, and for
// each pod of a manifest, would the API server send it to a podpattern webhook (namespace and
// object selectors, matchConditions) and what would the webhook answer (the engine, on the
// built-in catalog plus the cluster's PatternTemplates, with the namespace's defaults).
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1MutatingWebhook, type V1Namespace } from '#kube';
import { addParsed, buildCatalog, loadStaticLayers, type ParsedTemplates } from '../../catalog/index.js';
import type { Catalog } from '../../model/template.js';
import { templateOfObject } from '../../catalog/live.js';
import { TEMPLATE_GROUP as GROUP, TEMPLATE_PLURAL as PLURAL, TEMPLATE_VERSION as VERSION } from '../../model/template.js';
import { inject } from '../../engine/index.js';
import { DEFAULTS_LABEL, INJECTION_LABEL } from '../../model/keys.js';
import type { InjectOptions, PodLike } from '../../engine/types.js';
import type { ServerVersion } from '../../model/server-version.js';
import type { PolicyView } from '../../model/policy.js';
import { explainFailure } from '../kube/connect.js';
import { failedCondition, selectorMatches, selectorMismatch } from '../kube/selectors.js';
import { fail, ok, warn, type Finding } from './findings.js';
import type { StagedChoice } from '../../impact/staged.js';
import { revisionFinding } from './revisions.js';

const LABEL_FIX = (namespace: string): string =>
  `kubectl label namespace ${namespace} ${INJECTION_LABEL}=enabled (fail open) or =required (fail closed)`;

export async function readNamespace(config: KubeConfig, name: string, findings: Finding[]): Promise<V1Namespace | undefined> {
  try {
    return await config.makeApiClient(CoreV1Api).readNamespace({ name });
  } catch (error) {
    findings.push(fail(`namespace ${name}`, explainFailure(error, `read namespace ${name}`, config)));
    return undefined;
  }
}

/** Which podpattern webhooks see the namespace's pods, by its labels. */
export function checkNamespace(namespace: V1Namespace, webhooks: V1MutatingWebhook[]): Finding {
  const name = namespace.metadata?.name ?? '?';
  const labels = namespaceLabels(namespace);
  const check = `namespace ${name}`;
  const mode = labels[INJECTION_LABEL];
  const seen = webhooks.filter((w) => selectorMatches(w.namespaceSelector, labels));
  if (seen.length > 0) {
    const defaults = labels[DEFAULTS_LABEL] === 'enabled' ? '; its annotations give defaults (every pod is sent)' : '';
    return ok(
      check,
      `${INJECTION_LABEL}=${mode}: pods go to ${seen.map((w) => `${w.name} (failurePolicy ${w.failurePolicy ?? 'Fail'})`).join(', ')}${defaults}`,
    );
  }
  if (mode === undefined) return fail(check, `not labelled ${INJECTION_LABEL}: its pods are never sent to podpattern`, LABEL_FIX(name));
  const why = webhooks.map((w) => `${w.name} ${selectorMismatch(w.namespaceSelector, labels)}`).join('; ');
  return fail(
    check,
    `${INJECTION_LABEL}=${mode}, but no podpattern webhook selects it (${why}): podpattern's own namespace and kube-system are always excluded`,
    LABEL_FIX(name),
  );
}

function namespaceLabels(namespace: V1Namespace): Record<string, string> {
  // The API server sets kubernetes.io/metadata.name on every namespace; selectors use it.
  return { 'kubernetes.io/metadata.name': namespace.metadata?.name ?? '', ...namespace.metadata?.labels };
}

/** The built-in catalog with the cluster's PatternTemplates over it (as the server builds it, minus --catalog-dir). */
export async function clusterCatalog(config: KubeConfig, findings: Finding[]): Promise<Catalog> {
  const layers = loadStaticLayers(undefined);
  try {
    const list = (await config
      .makeApiClient(CustomObjectsApi)
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: Array<{ metadata?: { name?: string } }> };
    const cluster: ParsedTemplates = { templates: [], failures: [] };
    for (const item of list.items) addParsed(cluster, templateOfObject(item), 'cluster', item.metadata?.name ?? '?');
    layers.push(cluster);
  } catch (error) {
    findings.push(
      warn('catalog', `${explainFailure(error, 'list PatternTemplates', config)}; judging pods with the built-in catalog only`),
    );
  }
  return buildCatalog(layers);
}

export interface PodContext {
  webhooks: V1MutatingWebhook[];
  namespace: V1Namespace;
  catalog: Catalog;
  serverVersion: ServerVersion | undefined;
  /** The pod template is a Job's or CronJob's. */
  runsToCompletion?: boolean;
  /** The namespace's PatternPolicy, as the webhook would hold the pod to it. */
  policy?: PolicyView;
  /** What the namespace gets of each template in canary (`catalog` is already staged for it). */
  staged?: StagedChoice[];
}

/** Would this pod be sent to podpattern, and what would podpattern do with it. */
export function checkPod(label: string, pod: PodLike, context: PodContext): Finding[] {
  const namespaceName = context.namespace.metadata?.name ?? 'default';
  const check = `pod ${label}`;
  const verdicts = context.webhooks.map((webhook) => ({ webhook, why: whyNotSent(webhook, pod, context.namespace) }));
  const sentTo = verdicts.filter((v) => v.why === undefined).map((v) => v.webhook);
  const reasons = verdicts.flatMap((v) => (v.why === undefined ? [] : [`${v.webhook.name}: ${v.why}`]));
  const result = inject(structuredClone(pod), context.catalog, engineOptions(namespaceName, context));
  const asks = result.outcome !== 'skipped' || result.reason !== 'not-requested';
  if (sentTo.length === 0) {
    const message = `not sent to podpattern (${reasons.join('; ') || 'no podpattern webhook'})`;
    if (!asks) return [ok(check, `${message}; it asks for no template, so nothing is lost`)];
    const labelled = context.namespace.metadata?.labels?.[INJECTION_LABEL] !== undefined;
    return [
      fail(
        check,
        `${message}, but it asks for templates: it would run without them`,
        labelled
          ? 'give the pod a podpattern.dev annotation (check its spelling) and not the label app.kubernetes.io/name=podpattern'
          : LABEL_FIX(namespaceName),
      ),
    ];
  }
  const to = `sent to ${sentTo.map((w) => w.name).join(', ')}`;
  const warnings = result.warnings.map((w) => warn(check, `warning: ${w}`));
  const used = new Set(
    result.outcome === 'injected'
      ? result.templates.map((t) => t.name)
      : result.outcome === 'denied'
        ? result.problems.flatMap((p) => (p.template === undefined ? [] : [p.template]))
        : [],
  );
  const revisions = (context.staged ?? [])
    .filter((choice) => used.has(choice.template))
    .map((choice) => revisionFinding(label, namespaceName, choice));
  switch (result.outcome) {
    case 'injected':
      return [ok(check, `${to}; would be injected with ${result.templates.map((t) => t.name).join(', ')}`), ...warnings, ...revisions];
    case 'skipped':
      return [ok(check, `${to}; would be admitted unchanged (${result.reason})`), ...warnings];
    case 'denied':
      return [
        fail(
          check,
          `${to}; would be denied (${result.reason}): ${result.message}`,
          "fix the annotations as the message says; podpattern templates NAME lists a template's parameters",
        ),
        ...warnings,
        ...revisions,
      ];
  }
}

/** Why the API server would not send the pod to this webhook, or undefined when it would. */
function whyNotSent(webhook: V1MutatingWebhook, pod: PodLike, namespace: V1Namespace): string | undefined {
  const namespaceWhy = selectorMismatch(webhook.namespaceSelector, namespaceLabels(namespace));
  if (namespaceWhy !== undefined) return `the namespace ${namespaceWhy}`;
  const objectWhy = selectorMismatch(webhook.objectSelector, pod.metadata?.labels ?? {});
  if (objectWhy !== undefined) return `the pod ${objectWhy}`;
  const name = namespace.metadata?.name ?? 'default';
  const condition = failedCondition(webhook.matchConditions, { ...pod, metadata: { namespace: name, ...pod.metadata } }, name);
  if (condition !== undefined)
    return `matchCondition ${condition.name} is false${condition.error === undefined ? '' : ` (${condition.error})`}`;
  return undefined;
}

export function engineOptions(
  namespace: string,
  context: Pick<PodContext, 'namespace' | 'serverVersion' | 'runsToCompletion' | 'policy'>,
): InjectOptions {
  const options: InjectOptions = {
    nativeSidecars: 'auto',
    namespace,
    ...(context.runsToCompletion === true ? { runsToCompletion: true } : {}),
  };
  if (context.serverVersion !== undefined) options.serverVersion = context.serverVersion;
  // Availability is judged on the namespace's labels, as the webhook reads them.
  options.namespaceLabels = context.namespace.metadata?.labels ?? {};
  if (context.policy !== undefined) options.policy = context.policy;
  // The server applies a namespace's annotations only where it is labelled for defaults.
  if (context.namespace.metadata?.labels?.[DEFAULTS_LABEL] === 'enabled')
    options.namespaceAnnotations = context.namespace.metadata.annotations ?? {};
  return options;
}
