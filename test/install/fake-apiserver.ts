// Just enough of a Kubernetes API server for `helm template --dry-run=server`: discovery for
// the kinds the chart renders, and GET of the Secrets it holds. It lets the tests run the
// chart's `lookup` (certificates kept across upgrades) without a cluster. Plain HTTP on
// 127.0.0.1, port 0; every request is recorded.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { K8sObject } from './helpers.js';

/** group/version -> [kind, plural, namespaced] for everything the chart can render. */
const kinds: Record<string, Array<[string, string, boolean]>> = {
  v1: [['Secret', 'secrets', true], ['Service', 'services', true], ['ServiceAccount', 'serviceaccounts', true], ['Namespace', 'namespaces', false], ['Pod', 'pods', true]],
  'apps/v1': [['Deployment', 'deployments', true]],
  'policy/v1': [['PodDisruptionBudget', 'poddisruptionbudgets', true]],
  'rbac.authorization.k8s.io/v1': [
    ['ClusterRole', 'clusterroles', false], ['ClusterRoleBinding', 'clusterrolebindings', false],
    ['Role', 'roles', true], ['RoleBinding', 'rolebindings', true],
  ],
  'admissionregistration.k8s.io/v1': [
    ['MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false],
    ['ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false],
    ['ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false],
    ['ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings', false],
  ],
  'apiextensions.k8s.io/v1': [['CustomResourceDefinition', 'customresourcedefinitions', false]],
  'networking.k8s.io/v1': [['NetworkPolicy', 'networkpolicies', true]],
};

export interface FakeApiServer {
  kubeconfig: string;
  /** Secrets by "namespace/name"; change it between renders. */
  secrets: Map<string, K8sObject>;
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeApiServer(kubernetesVersion = 'v1.31.0'): Promise<FakeApiServer> {
  const secrets = new Map<string, K8sObject>();
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] as string;
    requests.push(`${request.method} ${path}`);
    const send = (code: number, body: unknown) => {
      response.writeHead(code, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const notFound = () => send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` });
    if (request.method !== 'GET') return send(405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 405, message: 'read-only fake' });
    const [major, minor] = kubernetesVersion.replace(/^v/, '').split('.');
    if (path === '/version') return send(200, { major, minor, gitVersion: kubernetesVersion, platform: 'linux/amd64' });
    // Plain (not aggregated) discovery; client-go falls back to it.
    if (path === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (path === '/apis') {
      const groups = Object.keys(kinds)
        .filter((gv) => gv.includes('/'))
        .map((gv) => {
          const [name, version] = gv.split('/') as [string, string];
          const groupVersion = { groupVersion: gv, version };
          return { name, versions: [groupVersion], preferredVersion: groupVersion };
        });
      return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
    }
    const resourceList = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
    if (resourceList) {
      const groupVersion = (resourceList[1] ?? resourceList[2]) as string;
      const resources = (kinds[groupVersion] ?? []).map(([kind, name, namespaced]) => ({
        name,
        singularName: kind.toLowerCase(),
        namespaced,
        kind,
        verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
      }));
      return resources.length > 0 ? send(200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources }) : notFound();
    }
    const secret = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(path);
    if (secret) {
      const found = secrets.get(`${secret[1]}/${secret[2]}`);
      return found ? send(200, found) : notFound();
    }
    return notFound();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'podpattern-kubeconfig-')), 'config');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}"}}]`,
      'users: [{name: fake, user: {token: fake}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: podpattern}}]',
      'current-context: fake',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    kubeconfig,
    secrets,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
