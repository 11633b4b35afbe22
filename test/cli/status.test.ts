// `podpattern status` against a scripted API server: pods by template and hash, an outdated pod
// and a non-injected one flagged with their Deployment and the command that rolls it.
import t, { type Test } from 'tap';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { inject } from '../../src/engine/index.js';
import type { PodLike } from '../../src/engine/types.js';
import { run } from '../../src/cli/status.js';
import { rollCommand } from '../../src/cli/status/inventory.js';
import { startFakeKube, status } from '../helpers/fake-apiserver.js';
import { runCaptured } from '../helpers/cli.js';
import { storedByApiServer } from '../helpers/stored-pod.js';

const current = loadBuiltinTemplates().templates.find((x) => x.name === 'redis-exporter')!.hash;
const injected = (hash: string) =>
  JSON.stringify({ templates: [{ name: 'redis-exporter', pattern: 'adapter', hash }], containers: ['redis-exporter'] });
const owned = (rs: string) => [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rs, controller: true }];

function pods() {
  return {
    items: [
      {
        metadata: {
          name: 'cache-1',
          namespace: 'shop',
          ownerReferences: owned('cache-7d'),
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/status': injected(current) },
        },
        status: { phase: 'Running' },
      },
      {
        metadata: {
          name: 'cache-old',
          namespace: 'shop',
          ownerReferences: owned('cache-5b'),
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/status': injected('0123456789abcdef') },
        },
        status: { phase: 'Running' },
      },
      {
        metadata: { name: 'bare', namespace: 'shop', annotations: { 'podpattern.dev/adapter': 'redis-exporter' } },
        status: { phase: 'Running' },
      },
      {
        metadata: {
          name: 'opted-out',
          namespace: 'shop',
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/inject': 'false' },
        },
        status: { phase: 'Running' },
      },
      { metadata: { name: 'plain', namespace: 'shop' }, status: { phase: 'Running' } },
    ],
  };
}

/** A scripted API server: these pods in shop, no PatternTemplates, and each ReplicaSet owned by the Deployment named. */
async function shopWith(t: Test, items: unknown[], deployments: Record<string, string>) {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set('GET /api/v1/namespaces/shop/pods', () => [200, { items }]);
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [] }]);
  const owned = Object.entries(deployments).map(([rs, name]) => ({
    metadata: { name: rs, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: name, controller: true }] },
  }));
  kube.routes.set('GET /apis/apps/v1/namespaces/shop/replicasets', () => [200, { items: owned }]);
  return kube;
}

function statusOf(kubeconfig: string, ...args: string[]) {
  return runCaptured(run, ['--kubeconfig', kubeconfig, ...args]);
}

t.test('pods by template and hash; outdated and non-injected pods with their workload and roll command', async (t) => {
  const kube = await shopWith(t, pods().items, { 'cache-7d': 'cache', 'cache-5b': 'cache' });
  const result = await statusOf(kube.kubeconfig);
  t.equal(result.code, 1, 'flagged pods: exit 1');
  const lines = result.out.trimEnd().split('\n');
  t.match(lines[0], /^TEMPLATE\s+HASH\s+VERSION\s+PODS$/);
  t.match(result.out, new RegExp(`^redis-exporter\\s+0123456789abcdef\\s+outdated\\s+1$`, 'm'));
  t.match(result.out, new RegExp(`^redis-exporter\\s+${current}\\s+current\\s+1$`, 'm'));
  t.match(
    result.out,
    new RegExp(
      `^outdated: Deployment shop/cache \\(1 pod: cache-old\\) runs redis-exporter 0123456789abcdef -> ${current}; roll: kubectl -n shop rollout restart deployment/cache$`,
      'm',
    ),
  );
  t.match(
    result.out,
    /^not injected: pod shop\/bare asks for podpattern\.dev\/adapter=redis-exporter but has no podpattern\.dev\/status; podpattern check -f POD\.yaml -n shop says why, then roll: kubectl -n shop delete pod bare, then create it again/m,
  );
  t.notMatch(result.out, /opted-out|plain/, 'opted-out and plain pods are not flagged');
  t.match(
    kube.requests.map((r) => r.url),
    [/^\/api\/v1\/namespaces\/shop\/pods/],
    'the context namespace by default',
  );
});

t.test('-A lists every namespace; a clean cluster exits 0; RBAC and network failures are one line', async (t) => {
  const kube = await startFakeKube();
  kube.routes.set('GET /api/v1/pods', () => [200, { items: [pods().items[0]] }]);
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => status(403, 'patterntemplates.podpattern.dev is forbidden'));
  kube.routes.set('GET /apis/apps/v1/namespaces/shop/replicasets', () => status(403, 'replicasets.apps is forbidden'));
  const all = await statusOf(kube.kubeconfig, '-A');
  t.equal(all.code, 0, all.out + all.err);
  t.match(all.out, /redis-exporter\s+\S+\s+current\s+1/);
  t.match(all.err, /^warning: cannot list PatternTemplates: forbidden .*built-in catalog only$/m);
  t.match(all.err, /^warning: cannot list ReplicaSets in shop: forbidden/m);
  kube.routes.set('GET /api/v1/pods', () => status(403, 'pods is forbidden: User "me" cannot list resource "pods" at the cluster scope'));
  const forbidden = await statusOf(kube.kubeconfig, '-A');
  t.equal(forbidden.code, 1);
  t.equal(
    forbidden.err,
    'podpattern status: cannot list pods in all namespaces: forbidden (pods is forbidden: User "me" cannot list resource "pods" at the cluster scope); ask for that permission (RBAC) or use a context that has it\n',
  );
  await kube.close();
  const down = await statusOf(kube.kubeconfig, '-n', 'shop');
  t.equal(down.code, 1);
  t.match(down.err, /^podpattern status: cannot list pods in shop: http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)[^\n]*\n$/);
  t.equal((await statusOf(kube.kubeconfig, '-A', '-n', 'x')).code, 2);
});

t.test(
  'a hundred outdated pods of one Deployment are one line with their count; a gone template is said, finished pods are left alone',
  async (t) => {
    const gone = JSON.stringify({
      templates: [{ name: 'retired-proxy', pattern: 'sidecar', hash: 'fedcba9876543210' }],
      containers: ['retired-proxy'],
    });
    const items = [
      ...Array.from({ length: 100 }, (_, i) => ({
        metadata: {
          name: `web-5b-${i}`,
          namespace: 'shop',
          ownerReferences: owned('web-5b'),
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/status': injected('0123456789abcdef') },
        },
        status: { phase: 'Running' },
      })),
      {
        metadata: {
          name: 'edge-1',
          namespace: 'shop',
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'edge', uid: 'e', controller: true }],
          annotations: { 'podpattern.dev/sidecar': 'retired-proxy', 'podpattern.dev/status': gone },
        },
        status: { phase: 'Running' },
      },
      {
        metadata: {
          name: 'nightly-1',
          namespace: 'shop',
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-1', uid: 'j', controller: true }],
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/status': injected('0123456789abcdef') },
        },
        status: { phase: 'Succeeded' },
      },
      ...Array.from({ length: 4 }, (_, i) => ({
        metadata: {
          name: `api-${i}`,
          namespace: 'shop',
          ownerReferences: owned('api-7c'),
          annotations: { 'podpattern.dev/adapter': 'redis-exporter' },
        },
        status: { phase: 'Running' },
      })),
    ];
    const kube = await shopWith(t, items, { 'web-5b': 'web', 'api-7c': 'api' });
    const result = await statusOf(kube.kubeconfig);
    t.equal(result.code, 1);
    const flagged = result.out.split('\n').filter((line) => /^(outdated|not injected):/.test(line));
    t.equal(flagged.length, 3, `one line per workload:\n${flagged.join('\n')}`);
    t.match(
      flagged[0],
      new RegExp(
        `^outdated: Deployment shop/web \\(100 pods: web-5b-0, web-5b-1, web-5b-2, …\\) run redis-exporter 0123456789abcdef -> ${current}; roll: kubectl -n shop rollout restart deployment/web$`,
      ),
    );
    t.match(
      flagged[1],
      /^outdated: StatefulSet shop\/edge \(1 pod: edge-1\) runs retired-proxy fedcba9876543210 -> no longer in the catalog; retired-proxy is no longer in the catalog, so new pods asking for it would be refused: put it back, or take it out of the pod template, then roll: kubectl -n shop rollout restart statefulset\/edge$/,
    );
    t.match(
      flagged[2],
      /^not injected: Deployment shop\/api \(4 pods: api-0, api-1, api-2, …\) ask for podpattern\.dev\/adapter=redis-exporter but have no podpattern\.dev\/status; podpattern check deploy\/api -n shop says why, then roll: kubectl -n shop rollout restart deployment\/api$/,
    );
    t.notMatch(result.out, /nightly/, "a finished Job's pod is not flagged");
  },
);

t.test('an outdated workload says which fields of what it runs the templates in force would change', async (t) => {
  // A pod as the webhook made it with today's redis-exporter and the API server stored it, then
  // aged: its record names an older hash, and for the Deployment "web" the exporter's image too.
  const fresh = inject(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'x', namespace: 'shop', annotations: { 'podpattern.dev/adapter': 'redis-exporter' } },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
    },
    buildCatalog([loadBuiltinTemplates()]),
    { nativeSidecars: 'auto', namespace: 'shop' },
  );
  if (fresh.outcome !== 'injected') throw new Error(`the fixture pod was not injected: ${fresh.outcome}`);
  const aged = (name: string, rs: string, image?: string) => {
    const pod = storedByApiServer(fresh.pod) as PodLike & { status?: unknown };
    const annotations = pod.metadata!.annotations!;
    annotations['podpattern.dev/status'] = annotations['podpattern.dev/status']!.replace(current, '0123456789abcdef');
    if (image !== undefined) pod.spec!.containers.find((c) => c.name === 'redis-exporter')!.image = image;
    return { ...pod, metadata: { ...pod.metadata, name, ownerReferences: owned(rs) }, status: { phase: 'Running' } };
  };
  const kube = await shopWith(
    t,
    [
      aged('web-1', 'web-5b', 'registry.example/redis_exporter:v0.1'),
      aged('web-2', 'web-5b', 'registry.example/redis_exporter:v0.1'),
      aged('api-1', 'api-7c'),
    ],
    { 'web-5b': 'web', 'api-7c': 'api' },
  );
  const result = await statusOf(kube.kubeconfig);
  t.equal(result.code, 1, result.out + result.err);
  t.match(
    result.out,
    new RegExp(
      `^outdated: Deployment shop/web \\(2 pods: web-1, web-2\\) run redis-exporter 0123456789abcdef -> ${current} \\(changed: containers\\[redis-exporter\\]\\.image\\); roll: kubectl -n shop rollout restart deployment/web$`,
      'm',
    ),
  );
  t.match(
    result.out,
    new RegExp(`^outdated: Deployment shop/api \\(1 pod: api-1\\) runs redis-exporter 0123456789abcdef -> ${current}; roll: `, 'm'),
    'nothing said changed where the compared fields are the same',
  );
});

t.test('the roll command fits the workload', async (t) => {
  t.equal(rollCommand('StatefulSet', 'db', 'shop', 'db-0'), 'kubectl -n shop rollout restart statefulset/db');
  t.equal(rollCommand('DaemonSet', 'agent', 'ops', 'agent-x'), 'kubectl -n ops rollout restart daemonset/agent');
  t.match(rollCommand('Job', 'migrate', 'shop', 'migrate-x'), /recreate Job migrate/);
  t.match(rollCommand('ReplicaSet', 'rs', 'shop', 'rs-x'), /delete pod rs-x \(the ReplicaSet creates a new one\)/);
});

t.test('running pods that break a PatternPolicy added after they started are flagged with their workload', async (t) => {
  const kube = await shopWith(
    t,
    [
      ...pods().items.filter((p) => p.metadata.name === 'cache-1' || p.metadata.name === 'plain'),
      {
        metadata: {
          name: 'cache-2',
          namespace: 'shop',
          ownerReferences: owned('cache-7d'),
          annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/status': injected(current) },
        },
        status: { phase: 'Running' },
      },
      { metadata: { name: 'done', namespace: 'shop' }, status: { phase: 'Succeeded' } },
    ],
    { 'cache-7d': 'cache' },
  );
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/namespaces/shop/patternpolicies', () => [
    200,
    {
      items: [
        {
          apiVersion: 'podpattern.dev/v1alpha1',
          kind: 'PatternPolicy',
          metadata: { name: 'default', namespace: 'shop' },
          spec: { require: [{ template: 'log-normalizer' }], forbid: ['redis-exporter'] },
        },
      ],
    },
  ]);
  const result = await statusOf(kube.kubeconfig);
  t.equal(result.code, 1, 'flagged: exit 1');
  t.match(
    result.out,
    /^breaks PatternPolicy shop\/default: shop Deployment\/cache \(2 pods running\): lacks log-normalizer \(required\); carries redis-exporter \(forbidden\); started before the policy, roll it: kubectl -n shop rollout restart deployment\/cache$/m,
  );
  t.match(result.out, /^breaks PatternPolicy shop\/default: shop Pod\/plain \(1 pod running\): lacks log-normalizer \(required\);/m);
  t.notMatch(result.out, /done/, 'finished pods are left alone');

  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/namespaces/shop/patternpolicies', () =>
    status(404, 'the server could not find the requested resource'),
  );
  const without = await statusOf(kube.kubeconfig);
  t.notMatch(without.out, /breaks PatternPolicy/, 'no PatternPolicy CRD: nothing to break');
  t.notMatch(without.err, /PatternPolicies/, 'and nothing to warn about');
});
