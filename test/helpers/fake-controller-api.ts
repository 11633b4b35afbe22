// An API server for the controllers' tests, over real HTTP: Namespaces, Pods (the phase field
// selector and `key=value` label selectors honoured), ReplicaSets, Deployments/StatefulSets/
// DaemonSets with merge patches applied as the API server applies them (RFC 7386;
// resourceVersion a precondition, 409 when stale; generation bumped when the spec changes),
// Events, Leases (create 409 when present, replace 409 on a stale resourceVersion),
// PatternTemplates (merge patches, JSON patches (RFC 6902) with their `test`, the status
// subresource) and ControllerRevisions (listed, merge-patched).
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
  /** Cluster PatternTemplates. */
  templates: Json[];
  /** ControllerRevisions, in any namespace. */
  revisions: Json[];
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
  const state: State = {
    namespaces: [],
    pods: [],
    objects: new Map(),
    leases: new Map(),
    events: [],
    patches: [],
    failLeaseRequests: 0,
    templates: [],
    revisions: [],
  };
  const server = await startFakeApiServer({
    respond: (request) =>
      core(state, request) ??
      apps(state, request) ??
      jobs(state, request) ??
      leases(state, request) ??
      templates(state, request) ??
      revisions(state, request),
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
    const labels = (query.get('labelSelector') ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('='));
    const items = state.pods.filter(
      (p) =>
        p.metadata.namespace === m![1] &&
        !(running && ['Succeeded', 'Failed'].includes(p.status.phase)) &&
        labels.every(([key, value]) => p.metadata.labels?.[key!] === value),
    );
    return [200, { kind: 'List', metadata: { resourceVersion: '1' }, items }];
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

/** GET of a Job (stored under `Job/<ns>/<name>`), as the owner lookup asks for a CronJob's Job. */
function jobs(state: State, { method, path }: FakeRequest): Answer {
  const m = path.match(/^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/);
  if (m === null || method !== 'GET') return undefined;
  const object = state.objects.get(`Job/${m[1]}/${m[2]}`);
  return object === undefined ? status(404, `jobs "${m[2]}" not found`, 'NotFound') : [200, object];
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

function templates(state: State, { method, path, body, raw }: FakeRequest): Answer {
  const m = path.match(/^\/apis\/podpattern\.dev\/v1alpha1\/patterntemplates(?:\/([^/]+))?(\/status)?$/);
  if (m === null) return undefined;
  if (m[1] === undefined) {
    return method === 'GET'
      ? [
          200,
          {
            apiVersion: 'podpattern.dev/v1alpha1',
            kind: 'PatternTemplateList',
            metadata: { resourceVersion: '1' },
            items: state.templates,
          },
        ]
      : undefined;
  }
  const index = state.templates.findIndex((o) => o.metadata.name === m[1]);
  if (index < 0) return status(404, `patterntemplates.podpattern.dev "${m[1]}" not found`, 'NotFound');
  const object = state.templates[index];
  if (method === 'GET') return [200, object];
  if (method !== 'PATCH') return undefined;
  const contentType = String(raw.headers['content-type']);
  state.patches.push({ path, contentType, body });
  let patched: Json;
  if (m[2] !== undefined) patched = { ...structuredClone(object), status: mergePatch(object.status ?? {}, body.status ?? {}) };
  else if (contentType.startsWith('application/json-patch+json')) {
    const applied = jsonPatch(object, body);
    if ('error' in applied)
      return applied.error.startsWith('test') ? status(409, applied.error, 'Conflict') : status(422, applied.error, 'Invalid');
    patched = applied.ok;
  } else patched = { ...mergePatch(object, { ...body, status: null }), status: object.status };
  if (m[2] === undefined && JSON.stringify(patched.spec) !== JSON.stringify(object.spec))
    patched.metadata.generation = (object.metadata.generation ?? 1) + 1;
  patched.metadata = { ...patched.metadata, resourceVersion: nextVersion() };
  state.templates[index] = patched;
  return [200, patched];
}

/** RFC 6902 for the operations podpattern sends (test, add, replace, remove); a string says why it failed. */
function jsonPatch(target: Json, operations: Json[]): { ok: Json } | { error: string } {
  const out = structuredClone(target);
  for (const operation of operations) {
    const keys = String(operation.path)
      .split('/')
      .slice(1)
      .map((key) => key.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop()!;
    const parent = keys.reduce((node, key) => node?.[key], out);
    if (parent === undefined || parent === null) return { error: `${operation.op} ${operation.path}: no such path` };
    if (operation.op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(operation.value))
      return { error: `test ${operation.path}: the value differs` };
    if (operation.op === 'remove') {
      if (!(last in parent)) return { error: `remove ${operation.path}: no such path` };
      delete parent[last];
    }
    if (operation.op === 'replace' || operation.op === 'add') parent[last] = operation.value;
  }
  return { ok: out };
}

function revisions(state: State, { method, path, query, body }: FakeRequest): Answer {
  const m = path.match(/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/controllerrevisions(?:\/([^/]+))?$/);
  if (m === null) return undefined;
  if (m[2] === undefined && method === 'GET') {
    const [key, value] = (query.get('labelSelector') ?? '').split('=');
    const items = state.revisions.filter((r) => r.metadata.namespace === m[1] && (key === '' || r.metadata.labels?.[key!] === value));
    return [200, { kind: 'ControllerRevisionList', apiVersion: 'apps/v1', metadata: { resourceVersion: '1' }, items }];
  }
  const index = state.revisions.findIndex((r) => r.metadata.namespace === m[1] && r.metadata.name === m[2]);
  if (index < 0) return status(404, `controllerrevisions.apps "${m[2]}" not found`, 'NotFound');
  if (method !== 'PATCH') return undefined;
  state.revisions[index] = mergePatch(state.revisions[index], body);
  return [200, state.revisions[index]];
}
