// An API server for the controllers' tests, over real HTTP: Namespaces, Pods (the phase field
// selector honoured), ReplicaSets, Deployments/StatefulSets/DaemonSets with merge patches applied
// as the API server applies them (RFC 7386; resourceVersion a precondition, 409 when stale;
// generation bumped when the spec changes), Events, and Leases (create 409 when present,
// replace 409 on a stale resourceVersion).
import { startFakeApiServer, status, type FakeApiServer, type FakeRequest } from './fake-apiserver.js';

type Json = any;

export interface ControllerApi extends FakeApiServer {
  namespaces: Json[];
  pods: Json[];
  objects: Map<string, Json>;
  leases: Map<string, Json>;
  events: Json[];
  patches: Array<{ path: string; contentType: string; body: Json }>;
  /** Answers PATCHes of workloads with this code (e.g. 403) when set. */
  refusePatches?: [number, string];
  /** Lease requests to answer 500 to, counted down. */
  failLeaseRequests: number;
}

let version = 100;
const nextVersion = (): string => String((version += 1));

export function mergePatch(target: Json, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Json = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export function workload(kind: string, namespace: string, name: string, annotations: Record<string, string> = {}): Json {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, namespace, uid: `uid-${name}`, generation: 1, resourceVersion: nextVersion(), annotations },
    spec: { template: { metadata: { annotations: {} } } },
  };
}

export function pod(
  namespace: string,
  name: string,
  options: { created: number; annotations?: Record<string, string>; owner?: { kind: string; name: string }; phase?: string },
): Json {
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      creationTimestamp: new Date(options.created).toISOString(),
      annotations: options.annotations ?? {},
      ...(options.owner === undefined
        ? {}
        : {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: options.owner.kind,
                name: options.owner.name,
                uid: `uid-${options.owner.name}`,
                controller: true,
              },
            ],
          }),
    },
    status: { phase: options.phase ?? 'Running' },
  };
}

const WORKLOADS: Record<string, string> = {
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  replicasets: 'ReplicaSet',
};

type State = Omit<ControllerApi, keyof FakeApiServer>;
type Answer = [number, unknown] | undefined;

export async function startControllerApi(): Promise<ControllerApi> {
  const state: State = { namespaces: [], pods: [], objects: new Map(), leases: new Map(), events: [], patches: [], failLeaseRequests: 0 };
  const server = await startFakeApiServer({
    respond: (request) => core(state, request) ?? apps(state, request) ?? leases(state, request),
  });
  return Object.assign(state, server);
}

function core(state: State, { method, path, query, body }: FakeRequest): Answer {
  let m: RegExpMatchArray | null;
  if (method === 'GET' && path === '/api/v1/namespaces') {
    const [key, value] = (query.get('labelSelector') ?? '').split('=');
    return [
      200,
      {
        kind: 'List',
        metadata: { resourceVersion: '1' },
        items: state.namespaces.filter((n) => key === '' || n.metadata.labels?.[key!] === value),
      },
    ];
  }
  if ((m = path.match(/^\/api\/v1\/namespaces\/([^/]+)\/pods$/)) && method === 'GET') {
    const running = (query.get('fieldSelector') ?? '').includes('status.phase!=Succeeded');
    const items = state.pods.filter(
      (p) => p.metadata.namespace === m![1] && !(running && ['Succeeded', 'Failed'].includes(p.status.phase)),
    );
    return [200, { kind: 'List', metadata: { resourceVersion: '1' }, items: items.map((p) => ({ metadata: p.metadata })) }];
  }
  if (/^\/api\/v1\/namespaces\/[^/]+\/events$/.test(path) && method === 'POST') {
    state.events.push(body);
    return [201, body];
  }
  return undefined;
}

function apps(state: State, { method, path, body, raw }: FakeRequest): Answer {
  const m = path.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets|daemonsets|replicasets)\/([^/]+)$/);
  if (m === null) return undefined;
  const key = `${WORKLOADS[m[2]!]}/${m[1]}/${m[3]}`;
  const object = state.objects.get(key);
  if (object === undefined) return status(404, `${m[2]} "${m[3]}" not found`, 'NotFound');
  if (method === 'GET') return [200, object];
  if (method !== 'PATCH') return undefined;
  state.patches.push({ path, contentType: String(raw.headers['content-type']), body });
  if (state.refusePatches !== undefined) return status(state.refusePatches[0], state.refusePatches[1]);
  if (body?.metadata?.resourceVersion !== undefined && body.metadata.resourceVersion !== object.metadata.resourceVersion) {
    return status(
      409,
      `Operation cannot be fulfilled on ${m[2]} "${m[3]}": the object has been modified; please apply your changes to the latest version and try again`,
      'Conflict',
    );
  }
  const patched = mergePatch(object, body);
  if (JSON.stringify(patched.spec) !== JSON.stringify(object.spec)) patched.metadata.generation = object.metadata.generation + 1;
  patched.metadata.resourceVersion = nextVersion();
  state.objects.set(key, patched);
  return [200, patched];
}

function leases(state: State, { method, path, body }: FakeRequest): Answer {
  const m = path.match(/^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/);
  if (m === null) return undefined;
  if (state.failLeaseRequests > 0) {
    state.failLeaseRequests -= 1;
    return status(500, 'etcdserver: request timed out', 'InternalError');
  }
  const name = m[2] ?? body?.metadata?.name;
  const key = `${m[1]}/${name}`;
  const current = state.leases.get(key);
  if (method === 'GET') return current === undefined ? status(404, `leases "${name}" not found`, 'NotFound') : [200, current];
  if (method === 'POST') {
    if (current !== undefined) return status(409, `leases "${name}" already exists`, 'AlreadyExists');
    const created = { ...body, metadata: { ...body.metadata, resourceVersion: nextVersion() } };
    state.leases.set(key, created);
    return [201, created];
  }
  if (method !== 'PUT') return undefined;
  if (current === undefined) return status(404, `leases "${name}" not found`, 'NotFound');
  if (body.metadata?.resourceVersion !== current.metadata.resourceVersion) return status(409, 'the object has been modified', 'Conflict');
  const replaced = { ...body, metadata: { ...body.metadata, resourceVersion: nextVersion() } };
  state.leases.set(key, replaced);
  return [200, replaced];
}
