// The one fake Kubernetes API server of the tests: plain HTTP, or HTTPS with its own CA as a pod
// reaches the real one, on 127.0.0.1 port 0, with a kubeconfig file pointing at it. The caller's
// `respond` answers each request (body parsed as JSON); anything it leaves unanswered is a 404
// Status, as the API server answers for an absent object. Below it, the three API servers the
// tests use: a scripted one for the live-cluster commands (startFakeKube), the live catalog's and
// Events' (startFakeCluster), and the discovery `helm template --dry-run=server` reads
// (startHelmApiServer).
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './tls.js';

export interface FakeRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  query: URLSearchParams;
  body: any;
  raw: IncomingMessage;
}

/**
 * An answer: a status code and a JSON body; 'held' when `respond` answers (or holds a watch
 * open) itself through the response; undefined for a 404.
 */
export type Respond = (request: FakeRequest, response: ServerResponse) => [number, unknown] | 'held' | undefined;

export interface FakeApiServer {
  url: string;
  kubeconfig: string;
  close(): Promise<void>;
}

export interface FakeApiServerOptions {
  respond: Respond;
  tls?: boolean;
  /** The kubeconfig context's namespace ('podpattern' unless given). */
  namespace?: string;
}

export function status(code: number, message: string, reason = 'Forbidden'): [number, unknown] {
  return [code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }];
}

export async function startFakeApiServer(options: FakeApiServerOptions): Promise<FakeApiServer> {
  const certificates = options.tls === true ? await makeCertificates() : undefined;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    let text = '';
    request.on('data', (chunk) => (text += String(chunk)));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://fake');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = text;
      }
      const answer = options.respond(
        { method: request.method ?? '', path: url.pathname, query: url.searchParams, body, raw: request },
        response,
      );
      if (answer === 'held') return;
      const [code, json] = answer ?? status(404, `${url.pathname} not found`, 'NotFound');
      response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  };
  const server: Server =
    certificates === undefined
      ? createHttpServer(handle)
      : createHttpsServer({ cert: certificates.certPem, key: certificates.keyPem }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `${certificates === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as { port: number }).port}`;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'podpattern-fake-apiserver-')), 'kubeconfig');
  writeKubeconfig(kubeconfig, url, options.namespace ?? 'podpattern', certificates?.caCertPem);
  return {
    url,
    kubeconfig,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A kubeconfig for `server`: with the CA that signed it, or (plain HTTP) with TLS verification off, which client-node asks for. */
export function writeKubeconfig(file: string, server: string, namespace = 'shop', caPem?: string): void {
  const cluster =
    caPem === undefined
      ? { server, 'insecure-skip-tls-verify': true }
      : { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') };
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'fake',
      clusters: [{ name: 'fake', cluster }],
      users: [{ name: 'me', user: { token: 'secret' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'me', namespace } }],
    }),
    { mode: 0o600 },
  );
}

// --- A scripted API for the live-cluster commands: a handler per "METHOD /path", every request recorded.

export type Handler = (body: any, request: IncomingMessage) => [number, unknown];

export interface FakeKube extends FakeApiServer {
  routes: Map<string, Handler>;
  requests: Array<{ method: string; url: string; body: any }>;
}

export async function startFakeKube(): Promise<FakeKube> {
  const routes = new Map<string, Handler>();
  const requests: FakeKube['requests'] = [];
  const server = await startFakeApiServer({
    namespace: 'shop',
    respond: ({ method, path, body, raw }) => {
      // A copy: handlers may edit the body they are given to answer with it.
      requests.push({ method, url: raw.url ?? '', body: structuredClone(body) });
      return routes.get(`${method} ${path}`)?.(body, raw);
    },
  });
  return { ...server, routes, requests };
}

// --- Just enough for `podpattern serve`'s live catalog and Events, over HTTPS: /version, list
// and watch of PatternTemplates, Namespaces and podpattern's ControllerRevisions (a watch is held open and sends nothing, as on a
// quiet cluster), the Ready condition's status patch, and Event creation.

export interface FakeCluster extends FakeApiServer {
  /** Requests by "METHOD /path", the path's last segment kept only for lists and watches. */
  requests: Map<string, number>;
}

export interface FakeClusterContent {
  templates: unknown[];
  namespaces: unknown[];
  /** ControllerRevisions of podpattern's namespace (template revisions); none unless given. */
  revisions?: unknown[];
  /** "v1.37.2" unless given. */
  version?: string;
}

const LISTS: Record<string, { kind: string; apiVersion: string; items: (c: FakeClusterContent) => unknown[] }> = {
  '/apis/podpattern.dev/v1alpha1/patterntemplates': {
    kind: 'PatternTemplateList',
    apiVersion: 'podpattern.dev/v1alpha1',
    items: (c) => c.templates,
  },
  '/api/v1/namespaces': { kind: 'NamespaceList', apiVersion: 'v1', items: (c) => c.namespaces },
  '/apis/apps/v1/namespaces/podpattern/controllerrevisions': {
    kind: 'ControllerRevisionList',
    apiVersion: 'apps/v1',
    items: (c) => c.revisions ?? [],
  },
};

export async function startFakeCluster(content: FakeClusterContent): Promise<FakeCluster> {
  const requests = new Map<string, number>();
  const version = (content.version ?? 'v1.37.2').replace(/^v/, '').split('.');
  const server = await startFakeApiServer({
    tls: true,
    respond: ({ method, path, query }, response) => {
      const watching = query.get('watch') === 'true';
      const counted = `${method} ${path.replace(/\/namespaces\/[^/]+\/events$/, '/namespaces/*/events').replace(/\/patterntemplates\/[^/]+\/status$/, '/patterntemplates/*/status')}${watching ? '?watch' : ''}`;
      requests.set(counted, (requests.get(counted) ?? 0) + 1);
      const list = LISTS[path];
      if (method === 'GET' && list !== undefined) {
        if (!watching)
          return [200, { kind: list.kind, apiVersion: list.apiVersion, metadata: { resourceVersion: '1' }, items: list.items(content) }];
        response.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
        return 'held';
      }
      if (method === 'GET' && path === '/version')
        return [200, { major: version[0], minor: version[1], gitVersion: `v${version.join('.')}`, platform: 'linux/amd64' }];
      if (method === 'PATCH' && counted.endsWith('/status')) return [200, {}];
      if (method === 'POST' && counted.endsWith('/events')) return [201, {}];
      return undefined;
    },
  });
  return { ...server, requests };
}

// --- Just enough for `helm template --dry-run=server`: discovery for the kinds the chart renders,
// and GET of the Secrets it holds, so the chart's `lookup` (certificates kept across upgrades)
// runs without a cluster.

/** group/version -> [kind, plural, namespaced] for everything the chart can render. */
const KINDS: Record<string, Array<[string, string, boolean]>> = {
  v1: [
    ['Secret', 'secrets', true],
    ['Service', 'services', true],
    ['ServiceAccount', 'serviceaccounts', true],
    ['Namespace', 'namespaces', false],
    ['Pod', 'pods', true],
  ],
  'apps/v1': [['Deployment', 'deployments', true]],
  'policy/v1': [['PodDisruptionBudget', 'poddisruptionbudgets', true]],
  'rbac.authorization.k8s.io/v1': [
    ['ClusterRole', 'clusterroles', false],
    ['ClusterRoleBinding', 'clusterrolebindings', false],
    ['Role', 'roles', true],
    ['RoleBinding', 'rolebindings', true],
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

export interface HelmApiServer extends FakeApiServer {
  /** Secrets by "namespace/name"; change it between renders. */
  secrets: Map<string, unknown>;
  requests: string[];
}

export async function startHelmApiServer(kubernetesVersion = 'v1.31.0'): Promise<HelmApiServer> {
  const secrets = new Map<string, unknown>();
  const requests: string[] = [];
  const server = await startFakeApiServer({
    respond: ({ method, path }) => {
      requests.push(`${method} ${path}`);
      if (method !== 'GET') return status(405, 'read-only fake', 'MethodNotAllowed');
      const [major, minor] = kubernetesVersion.replace(/^v/, '').split('.');
      if (path === '/version') return [200, { major, minor, gitVersion: kubernetesVersion, platform: 'linux/amd64' }];
      // Plain (not aggregated) discovery; client-go falls back to it.
      if (path === '/api') return [200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] }];
      if (path === '/apis') {
        const groups = Object.keys(KINDS)
          .filter((gv) => gv.includes('/'))
          .map((gv) => {
            const [name, version] = gv.split('/') as [string, string];
            const groupVersion = { groupVersion: gv, version };
            return { name, versions: [groupVersion], preferredVersion: groupVersion };
          });
        return [200, { kind: 'APIGroupList', apiVersion: 'v1', groups }];
      }
      const resourceList = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(path);
      if (resourceList) {
        const groupVersion = (resourceList[1] ?? resourceList[2]) as string;
        const resources = (KINDS[groupVersion] ?? []).map(([kind, name, namespaced]) => ({
          name,
          singularName: kind.toLowerCase(),
          namespaced,
          kind,
          verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
        }));
        return resources.length > 0 ? [200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources }] : undefined;
      }
      const secret = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/.exec(path);
      const found = secret === null ? undefined : secrets.get(`${secret[1]}/${secret[2]}`);
      return found === undefined ? undefined : [200, found];
    },
  });
  return { ...server, secrets, requests };
}
