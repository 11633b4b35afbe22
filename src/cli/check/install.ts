// The install checks of `podpattern check`: the webhook configuration, its caBundle against the
// certificate the server presents, the Deployment's ready endpoints, the CRD and every
// PatternTemplate's Ready condition. Each API failure becomes a failed finding with its cause,
// so one missing permission does not hide the other checks.
import { X509Certificate } from 'node:crypto';
import {
  AdmissionregistrationV1Api, ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api,
  type KubeConfig, type V1Deployment, type V1MutatingWebhook, type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { DOMAIN } from '../../model/keys.js';
import { TEMPLATE_GROUP as GROUP, TEMPLATE_PLURAL as PLURAL, TEMPLATE_VERSION as VERSION } from '../../model/template.js';
import { ClusterError, explainFailure, isNotFound } from '../kube/connect.js';
import { fail, ok, warn, type Finding } from './findings.js';

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
}

export async function checkInstall(config: KubeConfig): Promise<InstallReport> {
  const findings: Finding[] = [];
  const install = await findWebhook(config, findings);
  if (install === undefined) return { findings };
  const deployment = await checkEndpoints(config, install, findings);
  await checkCaBundle(config, install, deployment, findings);
  await checkTemplates(config, findings);
  return { findings, install };
}

const REINSTALL = 'install podpattern: helm install podpattern helm/podpattern -n podpattern --create-namespace (docs/install.md)';

async function findWebhook(config: KubeConfig, findings: Finding[]): Promise<Install | undefined> {
  let list;
  try {
    list = await config.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
  } catch (error) {
    findings.push(fail('webhook configuration', explainFailure(error, 'list MutatingWebhookConfigurations', config)));
    return undefined;
  }
  const configuration = list.items.find((c) => (c.webhooks ?? []).some(isPodpatternWebhook));
  if (configuration === undefined) {
    findings.push(fail('webhook configuration', 'no MutatingWebhookConfiguration has a podpattern.dev webhook: pods are never sent to podpattern', REINSTALL));
    return undefined;
  }
  const webhooks = (configuration.webhooks ?? []).filter(isPodpatternWebhook);
  const service = webhooks.map((w) => w.clientConfig.service).find((s) => s !== undefined);
  if (service === undefined) {
    findings.push(fail('webhook configuration', `${configuration.metadata?.name} calls a URL, not a Service: check cannot follow it`, 'use the chart or webhook-config/, which call the podpattern Service'));
    return undefined;
  }
  findings.push(ok('webhook configuration', `${configuration.metadata?.name}: ${webhooks.map((w) => `${w.name} (failurePolicy ${w.failurePolicy ?? 'Fail'})`).join(', ')} -> Service ${service.namespace}/${service.name}`));
  return { configuration, webhooks, service: { namespace: service.namespace, name: service.name } };
}

async function checkEndpoints(config: KubeConfig, install: Install, findings: Finding[]): Promise<V1Deployment | undefined> {
  const { namespace, name } = install.service;
  const check = 'endpoints';
  try {
    const service = await config.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name });
    const selector = service.spec?.selector ?? {};
    const deployments = await config.makeApiClient(AppsV1Api).listNamespacedDeployment({ namespace });
    const deployment = deployments.items.find((d) => Object.entries(selector).every(([k, v]) => d.spec?.template.metadata?.labels?.[k] === v));
    const slices = await config.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    const replicas = deployment === undefined ? undefined : `Deployment ${namespace}/${deployment.metadata?.name} has ${deployment.status?.readyReplicas ?? 0}/${deployment.spec?.replicas ?? 0} replicas ready`;
    if (ready > 0) {
      findings.push(ok(check, `Service ${namespace}/${name} has ${ready} ready endpoint(s)${replicas === undefined ? '' : `; ${replicas}`}`));
    } else {
      const fix = deployment === undefined
        ? `no Deployment's pods match the Service's selector ${JSON.stringify(selector)}: reinstall, or fix the selector`
        : (deployment.spec?.replicas ?? 0) === 0
          ? `kubectl -n ${namespace} scale deployment/${deployment.metadata?.name} --replicas=2`
          : `kubectl -n ${namespace} describe pods -l ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',')} (readiness needs a valid certificate and a synced catalog; the logs say which is missing)`;
      findings.push(fail(check, `Service ${namespace}/${name} has no ready endpoint: the API server cannot call the webhook${replicas === undefined ? '' : ` (${replicas})`}`, fix));
    }
    return deployment;
  } catch (error) {
    findings.push(fail(check, explainFailure(error, `read Service ${namespace}/${name} and its endpoints`, config), isNotFound(error) ? REINSTALL : undefined));
    return undefined;
  }
}

/** The serving certificate the Deployment mounts (its `tls` Secret volume) against each webhook's caBundle. */
async function checkCaBundle(config: KubeConfig, install: Install, deployment: V1Deployment | undefined, findings: Finding[]): Promise<void> {
  const check = 'caBundle';
  const { namespace, name } = install.service;
  const volumes = deployment?.spec?.template.spec?.volumes ?? [];
  const secretName = (volumes.find((v) => v.name === 'tls' && v.secret !== undefined) ?? volumes.find((v) => v.secret !== undefined))?.secret?.secretName;
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
    const why = error instanceof ClusterError || (error as { code?: unknown }).code !== undefined ? explainFailure(error, `read Secret ${namespace}/${secretName}`, config) : `Secret ${namespace}/${secretName} holds no readable tls.crt (${(error as Error).message})`;
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
    if (problem === undefined) findings.push(ok(check, `${which}: the caBundle verifies the certificate of Secret ${namespace}/${secretName} for ${host} (valid until ${new Date(leaf.validTo).toISOString().slice(0, 10)})`));
    else findings.push(fail(check, `${which}: ${problem}: the API server refuses the webhook's TLS, so pods are not injected`, `put the CA that signed Secret ${namespace}/${secretName} into the caBundle: helm upgrade with --reuse-values (the chart writes it), or see docs/install.md, Certificate rotation`));
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
  if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return `no CA in the caBundle (${cas.map((c) => c.subject.replaceAll('\n', ', ')).join('; ')}) signed the serving certificate (issuer ${leaf.issuer.replaceAll('\n', ', ')})`;
  if (leaf.checkHost(host) === undefined) return `the serving certificate is not valid for ${host} (${leaf.subjectAltName ?? 'no subjectAltName'})`;
  if (new Date(leaf.validTo) < now) return `the serving certificate expired on ${new Date(leaf.validTo).toISOString()}`;
  return undefined;
}

async function checkTemplates(config: KubeConfig, findings: Finding[]): Promise<void> {
  const crdName = `${PLURAL}.${GROUP}`;
  try {
    const crd = await config.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: crdName });
    const established = crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
    findings.push(established ? ok('CRD', `${crdName} is established`) : fail('CRD', `${crdName} is not established yet`, `kubectl describe crd ${crdName}`));
  } catch (error) {
    findings.push(fail('CRD', explainFailure(error, `read CRD ${crdName}`, config), isNotFound(error) ? 'helm upgrade with crds.enabled=true, or kubectl apply -f webhook-config/crd.yaml' : undefined));
    return;
  }
  let items: Array<{ metadata?: { name?: string; generation?: number }; status?: { conditions?: Array<{ type: string; status: string; message?: string; observedGeneration?: number }> } }>;
  try {
    const list = (await config.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: typeof items };
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
    else if (ready?.status === 'False') findings.push(fail('templates', `${name} is not Ready: ${ready.message ?? 'no message'} (its last good version, if any, stays in force)`, `kubectl edit ptpl ${name}, or kubectl get ptpl ${name} -o yaml for the full problem list`));
    else findings.push(warn('templates', `${name} has no Ready condition yet: no podpattern replica has processed it`, 'check that the webhook pods run (endpoints above) and follow the cluster (their logs)'));
  }
}
