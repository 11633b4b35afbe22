// The install checks of `podpattern check`: the webhook configuration, its caBundle against the
// certificate the server presents, the Deployment's ready endpoints, the CRD and every
// PatternTemplate's Ready condition. Each API failure becomes a failed finding with its cause,
// so one missing permission does not hide the other checks.
import { X509Certificate } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1LabelSelector,
  type V1MatchCondition,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
} from '#kube';
import { DOMAIN, POLICY_TEMPLATE_LABEL } from '../../model/keys.js';
import { TEMPLATE_GROUP as GROUP, TEMPLATE_PLURAL as PLURAL, TEMPLATE_VERSION as VERSION } from '../../model/template.js';
import { ClusterError, explainFailure, isNotFound } from '../kube/connect.js';
import { fail, ok, skip, warn, type Finding } from './findings.js';

/** podpattern's webhook entries are named <something>.podpattern.dev. */
export function isPodpatternWebhook(webhook: V1MutatingWebhook): boolean {
  return webhook.name.endsWith(`.${DOMAIN}`);
}

export interface Install {
  configuration: V1MutatingWebhookConfiguration;
  webhooks: V1MutatingWebhook[];
  service: { namespace: string; name: string };
}

export interface InstallReport {
  findings: Finding[];
  install?: Install;
  /**
   * What decides which pods podpattern sees: the webhook entries, or in webhook-less mode each
   * template's MutatingAdmissionPolicy with its binding's selectors, in the same shape.
   */
  selectors?: V1MutatingWebhook[];
  /** The templates installed as admission policies (webhook-less mode, or beside the webhook). */
  policies: string[];
}

/**
 * Every layer is checked and reported; one that cannot be checked because a layer it depends on
 * failed or is absent says so ("not checked", with why) rather than disappearing.
 */
export async function checkInstall(config: KubeConfig): Promise<InstallReport> {
  const findings: Finding[] = [];
  const found = await findWebhook(config, findings);
  const policies = await findPolicies(config);
  const install = typeof found === 'object' ? found : undefined;
  if (found === 'none') {
    if (policies.selectors.length > 0)
      findings.push(
        ok(
          'webhook configuration',
          `none: webhook-less mode, the API server injects ${policies.names.join(', ')} itself (MutatingAdmissionPolicy podpattern-<template>); pods asking for other templates, or several, are not injected`,
        ),
      );
    else
      findings.push(
        fail(
          'webhook configuration',
          `no MutatingWebhookConfiguration has a podpattern.dev webhook, and no podpattern MutatingAdmissionPolicy is bound${policies.why === undefined ? '' : ` (${policies.why})`}: pods are never sent to podpattern`,
          REINSTALL,
        ),
      );
  } else if (policies.names.length > 0) {
    findings.push(
      ok(
        'admission policies',
        `${policies.names.join(', ')} also injected by the API server itself (webhook-less mode for those templates)`,
      ),
    );
  }
  if (install === undefined) {
    const why =
      found === 'none' && policies.selectors.length > 0
        ? 'webhook-less mode has no webhook Service to call'
        : 'there is no webhook configuration to follow (above)';
    findings.push(skip('endpoints', why), skip('caBundle', why));
  } else {
    const deployment = await checkEndpoints(config, install, findings);
    if (deployment === undefined)
      findings.push(
        skip(
          'caBundle',
          'no Deployment found behind the webhook Service (endpoints, above), so no serving certificate to check it against',
        ),
      );
    else await checkCaBundle(config, install, deployment, findings);
  }
  await checkTemplates(config, findings);
  const selectors = install?.webhooks ?? (policies.selectors.length > 0 ? policies.selectors : undefined);
  return {
    findings,
    ...(install === undefined ? {} : { install }),
    ...(selectors === undefined ? {} : { selectors }),
    policies: policies.names,
  };
}

const REINSTALL = 'install podpattern: helm install podpattern helm/podpattern -n podpattern --create-namespace (docs/install.md)';

/** The podpattern webhook configuration; 'none' when there is none, undefined when it cannot be read (a finding says why). */
async function findWebhook(config: KubeConfig, findings: Finding[]): Promise<Install | 'none' | undefined> {
  let list;
  try {
    list = await config.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
  } catch (error) {
    findings.push(fail('webhook configuration', explainFailure(error, 'list MutatingWebhookConfigurations', config)));
    return undefined;
  }
  const configuration = list.items.find((c) => (c.webhooks ?? []).some(isPodpatternWebhook));
  if (configuration === undefined) return 'none';
  const webhooks = (configuration.webhooks ?? []).filter(isPodpatternWebhook);
  const service = webhooks.map((w) => w.clientConfig.service).find((s) => s !== undefined);
  if (service === undefined) {
    findings.push(
      fail(
        'webhook configuration',
        `${configuration.metadata?.name} calls a URL, not a Service: check cannot follow it`,
        'use the chart or webhook-config/, which call the podpattern Service',
      ),
    );
    return undefined;
  }
  findings.push(
    ok(
      'webhook configuration',
      `${configuration.metadata?.name}: ${webhooks.map((w) => `${w.name} (failurePolicy ${w.failurePolicy ?? 'Fail'})`).join(', ')} -> Service ${service.namespace}/${service.name}`,
    ),
  );
  return { configuration, webhooks, service: { namespace: service.namespace, name: service.name } };
}

interface PolicyObject {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    policyName?: string;
    failurePolicy?: string;
    matchConditions?: V1MatchCondition[];
    matchResources?: { namespaceSelector?: V1LabelSelector; objectSelector?: V1LabelSelector };
  };
}

/**
 * podpattern's MutatingAdmissionPolicies (labelled with their template) and their bindings, as
 * webhook-shaped selectors: a policy sees a pod its binding's selectors and its own
 * matchConditions let through. A cluster without the API (before 1.36) simply has none.
 */
async function findPolicies(config: KubeConfig): Promise<{ names: string[]; selectors: V1MutatingWebhook[]; why?: string }> {
  const objects = config.makeApiClient(CustomObjectsApi);
  const list = async (plural: string) =>
    ((await objects.listClusterCustomObject({ group: 'admissionregistration.k8s.io', version: 'v1', plural })) as { items: PolicyObject[] })
      .items;
  let policies: PolicyObject[];
  let bindings: PolicyObject[];
  try {
    [policies, bindings] = await Promise.all([list('mutatingadmissionpolicies'), list('mutatingadmissionpolicybindings')]);
  } catch (error) {
    return {
      names: [],
      selectors: [],
      ...(isNotFound(error) ? {} : { why: explainFailure(error, 'list MutatingAdmissionPolicies', config) }),
    };
  }
  const selectors: V1MutatingWebhook[] = [];
  // A template's own policy and its PatternPolicy one both name it.
  const names = new Set<string>();
  for (const policy of policies) {
    const template = policy.metadata?.labels?.[POLICY_TEMPLATE_LABEL];
    const binding = bindings.find((b) => b.spec?.policyName === policy.metadata?.name);
    if (template === undefined || binding === undefined) continue;
    names.add(template);
    selectors.push({
      name: `policy ${policy.metadata?.name ?? template}`,
      admissionReviewVersions: [],
      sideEffects: 'None',
      clientConfig: {},
      failurePolicy: policy.spec?.failurePolicy ?? 'Fail',
      ...(binding.spec?.matchResources?.namespaceSelector === undefined
        ? {}
        : { namespaceSelector: binding.spec.matchResources.namespaceSelector }),
      ...(binding.spec?.matchResources?.objectSelector === undefined ? {} : { objectSelector: binding.spec.matchResources.objectSelector }),
      ...(policy.spec?.matchConditions === undefined ? {} : { matchConditions: policy.spec.matchConditions }),
    });
  }
  return { names: [...names].sort(), selectors };
}

async function checkEndpoints(config: KubeConfig, install: Install, findings: Finding[]): Promise<V1Deployment | undefined> {
  const { namespace, name } = install.service;
  const check = 'endpoints';
  try {
    const service = await config.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name });
    const selector = service.spec?.selector ?? {};
    const deployments = await config.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
    const deployment = deployments.items.find((d) =>
      Object.entries(selector).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v),
    );
    const slices = await config
      .makeApiClient(DiscoveryV1Api)
      .listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    const replicas =
      deployment === undefined
        ? undefined
        : `Deployment ${namespace}/${deployment.metadata?.name} has ${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas ?? 0} replicas ready`;
    if (ready > 0) {
      findings.push(
        ok(check, `Service ${namespace}/${name} has ${ready} ready endpoint(s)${replicas === undefined ? '' : `; ${replicas}`}`),
      );
    } else {
      const fix =
        deployment === undefined
          ? `no Deployment's pods match the Service's selector ${JSON.stringify(selector)}: reinstall, or fix the selector`
          : (deployment.spec?.replicas ?? 0) === 0
            ? `kubectl -n ${namespace} scale deployment/${deployment.metadata?.name} --replicas=2`
            : `kubectl -n ${namespace} describe pods -l ${Object.entries(selector)
                .map(([k, v]) => `${k}=${v}`)
                .join(',')} (readiness needs a valid certificate and a synced catalog; the logs say which is missing)`;
      findings.push(
        fail(
          check,
          `Service ${namespace}/${name} has no ready endpoint: the API server cannot call the webhook${replicas === undefined ? '' : ` (${replicas})`}`,
          fix,
        ),
      );
    }
    return deployment;
  } catch (error) {
    findings.push(
      fail(
        check,
        explainFailure(error, `read Service ${namespace}/${name} and its endpoints`, config),
        isNotFound(error) ? REINSTALL : undefined,
      ),
    );
    return undefined;
  }
}

/** The serving certificate the Deployment mounts (its `tls` Secret volume) against each webhook's caBundle. */
async function checkCaBundle(config: KubeConfig, install: Install, deployment: V1Deployment, findings: Finding[]): Promise<void> {
  const check = 'caBundle';
  const { namespace, name } = install.service;
  const volumes = deployment.spec?.template.spec?.volumes ?? [];
  const secretName = (volumes.find((v) => v.name === 'tls' && v.secret !== undefined) ?? volumes.find((v) => v.secret !== undefined))
    ?.secret?.secretName;
  if (secretName === undefined) {
    findings.push(warn(check, 'cannot find the serving certificate: no Deployment with a Secret volume serves the webhook Service'));
    return;
  }
  let leaf: X509Certificate;
  try {
    const secret = await config.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name: secretName });
    const pem = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
    leaf = new X509Certificate(pem);
  } catch (error) {
    const why =
      error instanceof ClusterError || (error as { code?: unknown }).code !== undefined
        ? explainFailure(error, `read Secret ${namespace}/${secretName}`, config)
        : `Secret ${namespace}/${secretName} holds no readable tls.crt (${(error as Error).message})`;
    findings.push(warn(check, `${why}; the caBundle is unchecked`));
    return;
  }
  const host = `${name}.${namespace}.svc`;
  // Entries usually share one caBundle: one line per distinct bundle, naming its entries.
  const byBundle = new Map<string, string[]>();
  for (const webhook of install.webhooks) {
    const bundle = webhook.clientConfig.caBundle ?? '';
    byBundle.set(bundle, [...(byBundle.get(bundle) ?? []), webhook.name]);
  }
  for (const [bundle, names] of byBundle) {
    const problem = caBundleProblem(bundle, leaf, host);
    const which = names.join(', ');
    if (problem === undefined)
      findings.push(
        ok(
          check,
          `${which}: the caBundle verifies the certificate of Secret ${namespace}/${secretName} for ${host} (valid until ${new Date(leaf.validTo).toISOString().slice(0, 10)})`,
        ),
      );
    else
      findings.push(
        fail(
          check,
          `${which}: ${problem}: the API server refuses the webhook's TLS, so pods are not injected`,
          `put the CA that signed Secret ${namespace}/${secretName} into the caBundle: helm upgrade with --reuse-values (the chart writes it), or see docs/install.md, Certificate rotation`,
        ),
      );
  }
}

/** Why a caBundle does not verify a certificate for a host, or undefined when it does. */
export function caBundleProblem(bundle: string | undefined, leaf: X509Certificate, host: string, now = new Date()): string | undefined {
  if (bundle === undefined || bundle === '') return 'the caBundle is empty';
  const pem = Buffer.from(bundle, 'base64').toString('utf8');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cas: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      cas.push(new X509Certificate(block));
    } catch {
      return 'the caBundle holds a certificate that does not parse';
    }
  }
  if (cas.length === 0) return 'the caBundle holds no PEM certificate';
  if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey)))
    return `no CA in the caBundle (${cas.map((c) => c.subject.replaceAll('\n', ', ')).join('; ')}) signed the serving certificate (issuer ${leaf.issuer.replaceAll('\n', ', ')})`;
  if (leaf.checkHost(host) === undefined)
    return `the serving certificate is not valid for ${host} (${leaf.subjectAltName ?? 'no subjectAltName'})`;
  if (new Date(leaf.validTo) < now) return `the serving certificate expired on ${new Date(leaf.validTo).toISOString()}`;
  return undefined;
}

async function checkTemplates(config: KubeConfig, findings: Finding[]): Promise<void> {
  const crdName = `${PLURAL}.${GROUP}`;
  try {
    const crd = await config.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: crdName });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
    findings.push(
      established
        ? ok('CRD', `${crdName} is established`)
        : fail('CRD', `${crdName} is not established yet`, `kubectl describe crd ${crdName}`),
    );
  } catch (error) {
    findings.push(
      fail(
        'CRD',
        explainFailure(error, `read CRD ${crdName}`, config),
        isNotFound(error) ? 'helm upgrade with crds.enabled=true, or kubectl apply -f webhook-config/crd.yaml' : undefined,
      ),
    );
    return;
  }
  let items: Array<{
    metadata?: { name?: string; generation?: number };
    status?: { conditions?: Array<{ type: string; status: string; message?: string; observedGeneration?: number }> };
  }>;
  try {
    const list = (await config
      .makeApiClient(CustomObjectsApi)
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: typeof items };
    items = list.items;
  } catch (error) {
    findings.push(fail('templates', explainFailure(error, 'list PatternTemplates', config)));
    return;
  }
  if (items.length === 0) findings.push(ok('templates', 'no PatternTemplate in the cluster (the built-in catalog serves)'));
  for (const item of items) {
    const name = item.metadata?.name ?? '?';
    const ready = item.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') findings.push(ok('templates', `${name} is Ready`));
    else if (ready?.status === 'False')
      findings.push(
        fail(
          'templates',
          `${name} is not Ready: ${ready.message ?? 'no message'} (its last good version, if any, stays in force)`,
          `kubectl edit ptpl ${name}, or kubectl get ptpl ${name} -o yaml for the full problem list`,
        ),
      );
    else
      findings.push(
        warn(
          'templates',
          `${name} has no Ready condition yet: no podpattern replica has processed it`,
          'check that the webhook pods run (endpoints above) and follow the cluster (their logs)',
        ),
      );
  }
}
