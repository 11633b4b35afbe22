// Just enough of a Kubernetes API server for `podpattern serve`'s live catalog and Events, over
// HTTPS with its own CA, as a pod reaches the real one: /version, list and watch of
// PatternTemplates and Namespaces (a watch is held open and sends nothing, as on a quiet
// cluster), the Ready condition's status patch, and Event creation. Port 0 on 127.0.0.1; every
// request is counted by "METHOD /path".
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates } from './tls.js';

export interface FakeCluster {
  kubeconfig: string;
  /** Requests by "METHOD /path", the path's last segment kept only for lists and watches. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

export interface FakeClusterContent {
  templates: unknown[];
  namespaces: unknown[];
  /** "v1.37.2" unless given. */
  version?: string;
}

const LISTS: Record<string, { kind: string; apiVersion: string; items: (c: FakeClusterContent) => unknown[] }> = {
  '/apis/podpattern.dev/v1alpha1/patterntemplates': { kind: 'PatternTemplateList', apiVersion: 'podpattern.dev/v1alpha1', items: (c) => c.templates },
  '/api/v1/namespaces': { kind: 'NamespaceList', apiVersion: 'v1', items: (c) => c.namespaces },
};

export async function startFakeCluster(content: FakeClusterContent): Promise<FakeCluster> {
  const certificates = await makeCertificates();
  const requests = new Map<string, number>();
  const watches = new Set<ServerResponse>();
  const version = (content.version ?? 'v1.37.2').replace(/^v/, '').split('.');
  const server: Server = createServer({ cert: certificates.certPem, key: certificates.keyPem }, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://fake');
    const watching = url.searchParams.get('watch') === 'true';
    const counted = `${request.method} ${url.pathname.replace(/\/namespaces\/[^/]+\/events$/, '/namespaces/*/events').replace(/\/patterntemplates\/[^/]+\/status$/, '/patterntemplates/*/status')}${watching ? '?watch' : ''}`;
    requests.set(counted, (requests.get(counted) ?? 0) + 1);
    request.resume(); // bodies (events, patches) are read and dropped
    const send = (code: number, body: unknown) => response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    request.on('end', () => {
      const list = LISTS[url.pathname];
      if (request.method === 'GET' && list !== undefined) {
        if (!watching) return send(200, { kind: list.kind, apiVersion: list.apiVersion, metadata: { resourceVersion: '1' }, items: list.items(content) });
        watches.add(response.writeHead(200, { 'content-type': 'application/json' }));
        response.flushHeaders();
        response.on('close', () => watches.delete(response));
        return;
      }
      if (request.method === 'GET' && url.pathname === '/version') return send(200, { major: version[0], minor: version[1], gitVersion: `v${version.join('.')}`, platform: 'linux/amd64' });
      if (request.method === 'PATCH' && counted.endsWith('/status')) return send(200, {});
      if (request.method === 'POST' && counted.endsWith('/events')) return send(201, {});
      send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${url.pathname} not found` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'podpattern-fake-cluster-')), 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    clusters: [{ name: 'fake', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(certificates.caCertPem).toString('base64') } }],
    users: [{ name: 'podpattern', user: { token: 'fake' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'podpattern', namespace: 'podpattern' } }],
  }), { mode: 0o600 });
  return {
    kubeconfig,
    requests,
    close: () => new Promise<void>((resolve) => {
      for (const watch of watches) watch.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
