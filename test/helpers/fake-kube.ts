// A scripted Kubernetes API for the live-cluster commands: plain HTTP on 127.0.0.1, port 0, a
// handler per "METHOD /path" (query cut off), every request recorded; anything unscripted is a
// 404 Status, as the API server answers for an absent object. writeKubeconfig points a
// kubeconfig file at it.
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Handler = (body: any, request: IncomingMessage) => [number, unknown];

export interface FakeKube {
  url: string;
  kubeconfig: string;
  routes: Map<string, Handler>;
  requests: Array<{ method: string; url: string; body: any }>;
  close(): Promise<void>;
}

export function status(code: number, message: string, reason = 'Forbidden'): [number, unknown] {
  return [code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }];
}

export async function startFakeKube(): Promise<FakeKube> {
  const routes = new Map<string, Handler>();
  const requests: FakeKube['requests'] = [];
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => (text += String(chunk)));
    request.on('end', () => {
      const body = text === '' ? undefined : JSON.parse(text);
      requests.push({ method: request.method ?? '', url: request.url ?? '', body: text === '' ? undefined : JSON.parse(text) });
      const path = (request.url ?? '/').split('?')[0];
      const handler = routes.get(`${request.method} ${path}`);
      const [code, answer] = handler === undefined ? status(404, `${path} not found`, 'NotFound') : handler(body, request);
      response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'podpattern-fake-kube-')), 'kubeconfig');
  writeKubeconfig(kubeconfig, url);
  return { url, kubeconfig, routes, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export function writeKubeconfig(file: string, server: string, namespace = 'shop'): void {
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fake',
    // client-node refuses plain HTTP unless TLS verification is off.
    clusters: [{ name: 'fake', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'me', user: { token: 'secret' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'me', namespace } }],
  }));
}
