// `podpattern templates diff`: offline against manifests on disk (the workloads rendered whole,
// so a clash with the application's own port shows), and live against a fake API server that
// answers only metadata for pods (and, before an upgrade, one pod of a workload whole);
// `templates history` lists the kept revisions with the pods
// running each; `status` names the workload whose next pod the current template would deny.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run as templates } from '../../src/cli/templates.js';
import { run as status } from '../../src/cli/status.js';
import { startFakePodApi } from '../helpers/fake-pod-api.js';
import { startFakeKube } from '../helpers/fake-apiserver.js';
import type { V1ObjectMeta } from '#kube';
import { buildCatalog, loadStaticLayers } from '../../src/catalog/index.js';
import { inject } from '../../src/engine/index.js';
import type { Catalog } from '../../src/model/template.js';
import { injectedPod, liveWith, proxyObject } from '../impact/fixtures.js';

async function cli(command: typeof templates, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), readStdin: () => '' });
  return { code, out: out.join(''), err: err.join('') };
}

function deployment(name: string, port: string, appPort = 3000) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'shop' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: { 'podpattern.dev/sidecar': 'edge-proxy', 'edge-proxy.podpattern.dev/upstream-port': port },
        },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: appPort }] }] },
      },
    },
  };
}

function files(documents: Record<string, unknown[]>): string {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-diff-'));
  for (const [name, objects] of Object.entries(documents)) writeFileSync(join(dir, name), objects.map((o) => stringify(o)).join('---\n'));
  return dir;
}

t.test('offline: a maximum below a value in use breaks, exit 1; a description-only change is neutral, exit 0', async (t) => {
  const manifests = files({
    'web.yaml': [deployment('web', '9090')],
    'api.yaml': [deployment('api', '8080')],
    'template.yaml': [proxyObject()],
  });
  const next = files({ 'new.yaml': [proxyObject(8080)] });
  const broken = await cli(templates, 'diff', '-f', join(next, 'new.yaml'), '--manifests', manifests);
  t.equal(broken.code, 1, broken.err);
  t.match(broken.out, /breaking {2}shop Deployment\/web: .*upstream-port/);
  t.match(broken.out, /neutral {3}shop Deployment\/api/);
  t.match(broken.out, /1 breaking, 0 changing, 1 neutral/);

  const described = files({ 'new.yaml': [proxyObject(65535, { description: 'Better words.' })] });
  const fine = await cli(templates, 'diff', '-f', join(described, 'new.yaml'), '--manifests', manifests);
  t.equal(fine.code, 0, fine.err);
  t.match(fine.out, /0 breaking, 0 changing, 2 neutral/);
});

t.test('offline: a new port that clashes with an application port breaks, as the webhook would deny it', async (t) => {
  const moved = proxyObject();
  moved.spec.containers[0]!.ports = [{ containerPort: 8443 }];
  // The current version listens on 9443; the next moves to 8443, which the application uses.
  const current = proxyObject();
  current.spec.containers[0]!.ports = [{ containerPort: 9443 }];
  const dir = files({ 'web.yaml': [deployment('web', '9090', 8443)], 'template.yaml': [current] });
  const next = files({ 'new.yaml': [moved] });
  const result = await cli(templates, 'diff', '-f', join(next, 'new.yaml'), '--manifests', dir);
  t.equal(result.code, 1);
  t.match(result.out, /breaking {2}shop Deployment\/web: .*8443/);
});

t.test('bad input: no file, a file without templates, an invalid template', async (t) => {
  t.equal((await cli(templates, 'diff')).code, 2);
  const empty = files({ 'x.yaml': [deployment('web', '1')] });
  t.match(await cli(templates, 'diff', '-f', join(empty, 'x.yaml'), '--manifests', empty), { code: 1, err: /holds no PatternTemplate/ });
  const bad = files({ 'x.yaml': [{ ...proxyObject(), spec: { pattern: 'sidecar' } }] });
  t.match(await cli(templates, 'diff', '-f', join(bad, 'x.yaml'), '--manifests', empty), {
    code: 1,
    err: /PatternTemplate edge-proxy is invalid/,
  });
});

t.test("live: the cluster's injected pods, read as metadata, with their Deployments", async (t) => {
  const api = await startFakePodApi();
  t.teardown(api.close);
  const live = liveWith(proxyObject());
  api.extra.set('/apis/podpattern.dev/v1alpha1/patterntemplates', {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplateList',
    items: [proxyObject()],
  });
  api.extra.set('/api/v1/namespaces', { apiVersion: 'v1', kind: 'NamespaceList', items: [{ metadata: { name: 'shop' } }] });
  api.owners.set('shop/ReplicaSet/web-7d9f', [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }]);
  for (const name of ['web-7d9f-a', 'web-7d9f-b']) api.put(injectedPod(live, name, { port: '9090' }));
  const next = files({ 'new.yaml': [proxyObject(8080)] });
  const result = await cli(templates, 'diff', '-f', join(next, 'new.yaml'), '--kubeconfig', api.kubeconfig);
  t.equal(result.code, 1, result.err);
  t.match(result.out, /breaking {2}shop Deployment\/web \(2 pods\): .*upstream-port/);
  t.ok(
    api.requests.filter((r) => r.path === '/api/v1/pods').every((r) => r.accept.includes('PartialObjectMetadataList')),
    'pods read as metadata',
  );
});

t.test('history: the kept revisions, newest first, with the pods running each', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const live = liveWith(proxyObject());
  const hash = live.current().get('edge-proxy')!.hash;
  const owner = [{ apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', name: 'edge-proxy', uid: 'u', controller: true }];
  kube.routes.set('GET /apis/apps/v1/namespaces/podpattern/controllerrevisions', () => [
    200,
    {
      items: [
        {
          metadata: {
            name: `edge-proxy-${hash}`,
            creationTimestamp: '2026-12-06T01:00:00Z',
            annotations: { 'podpattern.dev/template-hash': hash },
            ownerReferences: owner,
          },
          revision: 2,
          data: {},
        },
        {
          metadata: {
            name: 'edge-proxy-0123456789abcdef',
            creationTimestamp: '2026-12-05T01:00:00Z',
            annotations: { 'podpattern.dev/template-hash': '0123456789abcdef' },
            ownerReferences: owner,
          },
          revision: 1,
          data: {},
        },
        {
          metadata: {
            name: 'other-0123',
            annotations: { 'podpattern.dev/template-hash': '0123' },
            ownerReferences: [{ ...owner[0], name: 'other' }],
          },
          revision: 1,
          data: {},
        },
      ],
    },
  ]);
  kube.routes.set('GET /api/v1/pods', () => [
    200,
    { items: [{ metadata: injectedPod(live, 'web-1') }, { metadata: injectedPod(live, 'web-2') }] },
  ]);
  const result = await cli(templates, 'history', 'edge-proxy', '--kubeconfig', kube.kubeconfig);
  t.equal(result.code, 0, result.err);
  const rows = result.out
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  t.same(
    rows.map((r) => [r[0], r[1], r[3]]),
    [
      ['REVISION', 'HASH', 'PODS'],
      ['2', hash, '2'],
      ['1', '0123456789abcdef', '0'],
    ],
  );
  t.match(await cli(templates, 'history', '--kubeconfig', kube.kubeconfig), { code: 2 });
});

t.test('status names the workload whose next pod the current template would deny', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const before = liveWith(proxyObject());
  const pods = ['web-7d9f-a', 'web-7d9f-b'].map((name) => ({
    metadata: injectedPod(before, name, { port: '9090' }),
    status: { phase: 'Running' },
  }));
  // The template was forced down to a maximum of 8080 since: the pods still record the old hash.
  kube.routes.set('GET /api/v1/namespaces/shop/pods', () => [200, { items: pods }]);
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [proxyObject(8080)] }]);
  kube.routes.set('GET /apis/apps/v1/namespaces/shop/replicasets', () => [
    200,
    {
      items: [
        {
          metadata: {
            name: 'web-7d9f',
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd', controller: true }],
          },
        },
      ],
    },
  ]);
  const result = await cli(status, '--kubeconfig', kube.kubeconfig);
  t.equal(result.code, 1);
  t.match(result.out, /next pod denied: shop Deployment\/web \(2 pods running\): .*upstream-port/);
});

t.test("live with no file, before an upgrade: this version's built-ins against the pods the cluster runs", async (t) => {
  const api = await startFakePodApi();
  t.teardown(api.close);
  const catalog = buildCatalog(loadStaticLayers(undefined));
  const current = catalog.get('log-normalizer')!.hash;
  api.extra.set('/apis/podpattern.dev/v1alpha1/patterntemplates', {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplateList',
    items: [],
  });
  api.extra.set('/api/v1/namespaces', { apiVersion: 'v1', kind: 'NamespaceList', items: [{ metadata: { name: 'shop' } }] });
  for (const path of ['/version', '/version/']) api.extra.set(path, { major: '1', minor: '37', gitVersion: 'v1.37.2' });
  // A pod of each Deployment, injected by this version and then stored as the API server would.
  const pods = { web: runningPod(catalog, 'web'), same: runningPod(catalog, 'same'), old: runningPod(catalog, 'old') };
  for (const pod of [pods.same, pods.old]) recordHash(pod, 'feedfacefeedface'); // run by an older version
  const adapter = pods.old.spec.containers.find((c) => c.name !== 'app')!;
  adapter.image = 'ghcr.io/podpattern/podpattern:0.0.1';
  for (const [name, pod] of Object.entries(pods)) {
    api.owners.set(`shop/ReplicaSet/${name}-1`, [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: name, controller: true }]);
    api.put(pod.metadata);
    api.extra.set(`/api/v1/namespaces/shop/pods/${pod.metadata.name}`, pod);
  }
  const result = await cli(templates, 'diff', '--live', '--kubeconfig', api.kubeconfig);
  t.equal(result.code, 0, result.err);
  t.notMatch(result.err, /warning/);
  t.equal(
    result.out,
    [
      `PatternTemplate log-normalizer: ${[current, 'feedfacefeedface'].sort().join(', ')} -> ${current}`,
      '  changing  shop Deployment/old (1 pod): containers[log-normalizer].image',
      // An older hash with the same containers, as the API server stores them (its defaults, the token mount).
      '  neutral   shop Deployment/same (1 pod)',
      '  neutral   shop Deployment/web (1 pod)',
      '  0 breaking, 1 changing, 2 neutral',
      '',
    ].join('\n'),
  );
  const read = api.requests.filter((r) => /^\/api\/v1\/namespaces\/shop\/pods\//.test(r.path)).map((r) => r.path.split('/').pop());
  t.same(read.sort(), ['old-1-a', 'same-1-a'], 'only pods whose hash differs are read whole');
});

t.test('live with no file: a built-in the cluster overrides is not compared; nothing injected says so', async (t) => {
  const api = await startFakePodApi();
  t.teardown(api.close);
  api.extra.set('/apis/podpattern.dev/v1alpha1/patterntemplates', {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplateList',
    items: [],
  });
  api.extra.set('/api/v1/namespaces', { apiVersion: 'v1', kind: 'NamespaceList', items: [] });
  t.match(await cli(templates, 'diff', '--live', '--kubeconfig', api.kubeconfig), {
    code: 0,
    out: 'no injected pod runs a built-in template\n',
  });
  const pod = runningPod(buildCatalog(loadStaticLayers(undefined)), 'web');
  api.put(pod.metadata);
  const override = {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'log-normalizer' },
    spec: {
      pattern: 'adapter',
      description: "The platform's own.",
      containers: [{ name: 'log-normalizer', image: 'registry.example/ln:1' }],
    },
  };
  api.extra.set('/apis/podpattern.dev/v1alpha1/patterntemplates', {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplateList',
    items: [override],
  });
  t.match(await cli(templates, 'diff', '--live', '--kubeconfig', api.kubeconfig), {
    code: 0,
    err: /log-normalizer: the cluster's PatternTemplate overrides the built-in/,
  });
});

/** A pod of Deployment `name` asking for log-normalizer, injected by `catalog`, with what the API server adds when it stores it. */
function runningPod(catalog: Catalog, name: string) {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${name}-1-a`, namespace: 'shop', annotations: { 'podpattern.dev/adapter': 'log-normalizer' } },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
  const result = inject(pod, catalog, { nativeSidecars: 'auto', namespace: 'shop', serverVersion: { major: 1, minor: 37 } });
  if (result.outcome !== 'injected') throw new Error(`not injected: ${JSON.stringify(result)}`);
  const stored = result.pod as {
    metadata: V1ObjectMeta & { name: string };
    spec: { containers: Array<Record<string, unknown> & { name: string }>; initContainers?: Array<Record<string, unknown>> };
  };
  stored.metadata = {
    ...stored.metadata,
    uid: `uid-${name}`,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-1`, uid: 'rs', controller: true }],
  };
  for (const container of [...stored.spec.containers, ...(stored.spec.initContainers ?? [])]) {
    container.terminationMessagePath = '/dev/termination-log';
    container.volumeMounts = [
      ...((container.volumeMounts as unknown[]) ?? []),
      { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ];
    if (Array.isArray(container.ports)) container.ports = container.ports.map((p: object) => ({ ...p, protocol: 'TCP' }));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      if (container[probe] !== undefined)
        container[probe] = {
          timeoutSeconds: 1,
          periodSeconds: 10,
          successThreshold: 1,
          failureThreshold: 3,
          ...(container[probe] as object),
        };
    }
  }
  return stored;
}

function recordHash(pod: { metadata: V1ObjectMeta }, hash: string): void {
  const annotations = pod.metadata.annotations!;
  const status = JSON.parse(annotations['podpattern.dev/status']!) as { templates: Array<{ hash: string }> };
  for (const template of status.templates) template.hash = hash;
  annotations['podpattern.dev/status'] = JSON.stringify(status);
}
