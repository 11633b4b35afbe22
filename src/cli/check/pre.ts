// `podpattern check --pre`: can podpattern be installed here, before it is. The server's version
// against the oldest the chart installs on; the admission APIs the chart uses (webhook
// configurations with matchConditions, ValidatingAdmissionPolicy) and the one webhook-less mode
// needs (MutatingAdmissionPolicy, Kubernetes 1.36); cert-manager, for tls.mode=certManager; the
// permission to create what the chart creates; and an install already there.
import { AdmissionregistrationV1Api, ApisApi, AuthorizationV1Api, type KubeConfig } from '#kube';
import { OLDEST_SUPPORTED, formatVersion, type ServerVersion } from '../../model/server-version.js';
import { explainFailure } from '../kube/connect.js';
import { isPodpatternWebhook } from './install.js';
import { fail, ok, skip, warn, type Finding } from './findings.js';

/** What the chart creates, cluster-wide and in its namespace: each needs `create`. */
const CREATES: Array<{ group: string; resource: string; namespaced: boolean }> = [
  { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', namespaced: false },
  { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', namespaced: false },
  { group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', namespaced: false },
  { group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', namespaced: false },
  { group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicybindings', namespaced: false },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespaced: false },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', namespaced: false },
  { group: 'apps', resource: 'deployments', namespaced: true },
  { group: '', resource: 'services', namespaced: true },
  { group: '', resource: 'secrets', namespaced: true },
  { group: '', resource: 'serviceaccounts', namespaced: true },
];

function atLeast(version: ServerVersion, minimum: ServerVersion): boolean {
  return version.major > minimum.major || (version.major === minimum.major && version.minor >= minimum.minor);
}

export async function preflight(config: KubeConfig, version: ServerVersion, namespace: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  const oldest = formatVersion(OLDEST_SUPPORTED);
  findings.push(
    atLeast(version, OLDEST_SUPPORTED)
      ? ok('Kubernetes version', `${formatVersion(version)} (the chart installs on ${oldest} or later)`)
      : fail(
          'Kubernetes version',
          `${formatVersion(version)}: the chart needs ${oldest} or later (webhook matchConditions and ValidatingAdmissionPolicy are GA there)`,
          `upgrade the cluster to ${oldest} or later`,
        ),
  );
  findings.push(...(await checkAdmissionApis(config)));
  findings.push(await checkCertManager(config));
  findings.push(...(await checkPermissions(config, namespace)));
  findings.push(await checkExisting(config));
  return findings;
}

async function checkAdmissionApis(config: KubeConfig): Promise<Finding[]> {
  let served: Set<string>;
  try {
    served = new Set((await config.makeApiClient(AdmissionregistrationV1Api).getAPIResources()).resources.map((r) => r.name));
  } catch (error) {
    const why = explainFailure(error, 'list the resources of admissionregistration.k8s.io/v1', config);
    return [fail('admission APIs', why), skip('webhook-less mode', 'the admission APIs could not be listed (above)')];
  }
  const needed = [
    'mutatingwebhookconfigurations',
    'validatingwebhookconfigurations',
    'validatingadmissionpolicies',
    'validatingadmissionpolicybindings',
  ];
  const missing = needed.filter((name) => !served.has(name));
  return [
    missing.length === 0
      ? // The API server does not say which admission plugins run; served APIs are what it shows.
        ok(
          'admission APIs',
          `admissionregistration.k8s.io/v1 serves ${needed.join(', ')} (the MutatingAdmissionWebhook, ValidatingAdmissionWebhook and ValidatingAdmissionPolicy plugins are on by default; the API cannot show a cluster that turned them off)`,
        )
      : fail(
          'admission APIs',
          `admissionregistration.k8s.io/v1 does not serve ${missing.join(', ')}: the chart cannot install`,
          'enable them on the API server (--runtime-config), or use a Kubernetes that serves them',
        ),
    served.has('mutatingadmissionpolicies')
      ? ok('webhook-less mode', 'MutatingAdmissionPolicy is served: policies.templates (docs/policy.md) can inject without the webhook')
      : warn(
          'webhook-less mode',
          'MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) is not served: the webhook works, policies.templates does not (Kubernetes 1.36 or later)',
        ),
  ];
}

async function checkCertManager(config: KubeConfig): Promise<Finding> {
  try {
    const groups = (await config.makeApiClient(ApisApi).getAPIVersions()).groups.map((g) => g.name);
    return groups.includes('cert-manager.io')
      ? ok('cert-manager', 'cert-manager.io is served: tls.mode=certManager can be chosen')
      : ok('cert-manager', 'not installed: keep tls.mode=generate (the default) or secret; tls.mode=certManager needs it');
  } catch (error) {
    return warn('cert-manager', explainFailure(error, 'list API groups', config));
  }
}

async function checkPermissions(config: KubeConfig, namespace: string): Promise<Finding[]> {
  const api = config.makeApiClient(AuthorizationV1Api);
  const denied: string[] = [];
  try {
    for (const { group, resource, namespaced } of CREATES) {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group, resource, verb: 'create', ...(namespaced ? { namespace } : {}) } },
        },
      });
      if (review.status?.allowed !== true)
        denied.push(`${resource}${group === '' ? '' : `.${group}`}${namespaced ? ` in ${namespace}` : ''}`);
    }
  } catch (error) {
    return [
      warn(
        'permissions',
        `${explainFailure(error, 'ask the API server what these credentials may do', config)}; the install may still work`,
      ),
    ];
  }
  return [
    denied.length === 0
      ? ok('permissions', `these credentials may create everything the chart creates (cluster-wide, and in namespace ${namespace})`)
      : fail(
          'permissions',
          `these credentials may not create ${denied.join(', ')}`,
          'install with a cluster-admin context, or ask for those permissions (RBAC)',
        ),
  ];
}

async function checkExisting(config: KubeConfig): Promise<Finding> {
  try {
    const existing = (await config.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration()).items
      .filter((c) => (c.webhooks ?? []).some(isPodpatternWebhook))
      .map((c) => c.metadata?.name ?? '?');
    return existing.length === 0
      ? ok('existing install', 'no podpattern webhook configuration yet')
      : warn(
          'existing install',
          `podpattern is already installed (MutatingWebhookConfiguration ${existing.join(', ')}): a second install would send pods to two webhooks`,
          'helm upgrade the existing release, or podpattern check (without --pre) to see its state',
        );
  } catch (error) {
    return warn('existing install', explainFailure(error, 'list MutatingWebhookConfigurations', config));
  }
}
