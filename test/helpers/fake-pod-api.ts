// Enough of the API server for the index of injected pods, over plain HTTP on 127.0.0.1 port 0:
// pods listed (label selector, limit and continue, a resourceVersion) and watched from a
// resourceVersion, ReplicaSets and Jobs read one by one, each only as PartialObjectMetadata
// (meta.k8s.io/v1): a request without that Accept header gets a 406, so a client that forgets
// to ask for metadata fails rather than passes. A watch can be told it fell behind: it gets an
// ERROR event with a 410 Status and ends, as the API server does when a version has expired.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ObjectMeta } from '#kube';
import { writeKubeconfig } from './fake-apiserver.js';

const LIST_ACCEPT = 'as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const ONE_ACCEPT = 'as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface FakePodApi {
  kubeconfig: string;
  /** Adds or replaces a pod (by namespace/name); watchers see ADDED or MODIFIED. */
  put(metadata: V1ObjectMeta): void;
  remove(namespace: string, name: string): void;
  /** Owners readable by the owner lookup: "namespace/ReplicaSet/name" -> its ownerReferences. */
  owners: Map<string, Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>>;
  /** Ends every open watch with a 410 Gone, and forgets history so a resumed watch gets 410 too. */
  expireWatches(): void;
  requests: Array<{ path: string; query: URLSearchParams; accept: string }>;
  /** Other GETs answered as given, by path (PatternTemplates, namespaces, /version...). */
  extra: Map<string, unknown>;
  watchers(): number;
  close(): Promise<void>;
}

export async function startFakePodApi(): Promise<FakePodApi> {
  const pods = new Map<string, V1ObjectMeta>();
  const history: Array<{ version: number; type: string; metadata: V1ObjectMeta }> = [];
  let version = 100;
  let oldestKept = 0;
  const watches = new Set<{ response: ServerResponse; selector: string }>();
  const requests: FakePodApi['requests'] = [];
  const owners: FakePodApi['owners'] = new Map();
  const extra = new Map<string, unknown>();

  const matches = (metadata: V1ObjectMeta, selector: string): boolean => {
    if (selector === '') return true;
    return selector.split(',').every((term) => {
      const [key, value] = term.split('=');
      return metadata.labels?.[key!] === value;
    });
  };
  const emit = (type: string, metadata: V1ObjectMeta): void => {
    history.push({ version, type, metadata });
    for (const w of watches)
      if (matches(metadata, w.selector)) w.response.write(`${JSON.stringify({ type, object: partial(metadata) })}\n`);
  };
  const partial = (metadata: V1ObjectMeta) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata });

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const accept = String(request.headers.accept ?? '');
    requests.push({ path: url.pathname, query: url.searchParams, accept });
    const json = (code: number, body: unknown) =>
      response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const status = (code: number, reason: string, message: string) =>
      json(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
    if (url.pathname === '/api/v1/pods') return servePods(url, accept, { request, response }, { json, status });
    const owner = /^\/apis\/(apps|batch)\/v1\/namespaces\/([^/]+)\/(replicasets|jobs)\/([^/]+)$/.exec(url.pathname);
    if (owner !== null) {
      if (!accept.includes(ONE_ACCEPT)) return status(406, 'NotAcceptable', 'ask for PartialObjectMetadata');
      const [, , namespace, plural, name] = owner;
      const references = owners.get(`${namespace}/${plural === 'jobs' ? 'Job' : 'ReplicaSet'}/${name}`);
      if (references === undefined) return status(404, 'NotFound', `${plural} "${name}" not found`);
      return json(200, partial({ name, namespace, ownerReferences: references }));
    }
    if (extra.has(url.pathname)) return json(200, extra.get(url.pathname));
    return status(404, 'NotFound', `${url.pathname} not found`);
  });
  type Json = (code: number, body: unknown) => void;
  type Status = (code: number, reason: string, message: string) => void;
  function servePods(
    url: URL,
    accept: string,
    { request, response }: { request: IncomingMessage; response: ServerResponse },
    { json, status }: { json: Json; status: Status },
  ): void {
    const selector = url.searchParams.get('labelSelector') ?? '';
    if (url.searchParams.get('watch') === 'true') {
      if (!accept.includes(ONE_ACCEPT)) return status(406, 'NotAcceptable', 'ask for PartialObjectMetadata');
      const from = Number(url.searchParams.get('resourceVersion') ?? '0');
      // Headers at once, as the API server sends them when a watch opens.
      response.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
      if (from < oldestKept) {
        response.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
        );
        return;
      }
      for (const e of history)
        if (e.version > from && matches(e.metadata, selector))
          response.write(`${JSON.stringify({ type: e.type, object: partial(e.metadata) })}\n`);
      const watch = { response, selector };
      watches.add(watch);
      request.on('close', () => watches.delete(watch));
      return;
    }
    if (!accept.includes(LIST_ACCEPT)) return status(406, 'NotAcceptable', 'ask for PartialObjectMetadataList');
    const all = [...pods.values()].filter((m) => matches(m, selector));
    const offset = Number(url.searchParams.get('continue') ?? '0');
    const limit = Number(url.searchParams.get('limit') ?? String(all.length));
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    return json(200, {
      kind: 'PartialObjectMetadataList',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(version), ...(next === undefined ? {} : { continue: next }) },
      items: page.map(partial),
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'podpattern-fake-pods-')), 'kubeconfig');
  writeKubeconfig(kubeconfig, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
  return {
    kubeconfig,
    owners,
    requests,
    extra,
    put(metadata) {
      version += 1;
      const key = `${metadata.namespace}/${metadata.name}`;
      const type = pods.has(key) ? 'MODIFIED' : 'ADDED';
      const stored = { ...metadata, resourceVersion: String(version) };
      pods.set(key, stored);
      emit(type, stored);
    },
    remove(namespace, name) {
      const stored = pods.get(`${namespace}/${name}`);
      if (stored === undefined) return;
      version += 1;
      pods.delete(`${namespace}/${name}`);
      emit('DELETED', { ...stored, resourceVersion: String(version) });
    },
    expireWatches() {
      oldestKept = version + 1;
      history.length = 0;
      for (const w of watches)
        w.response.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
        );
      watches.clear();
    },
    watchers: () => watches.size,
    close: () => {
      for (const w of watches) w.response.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
