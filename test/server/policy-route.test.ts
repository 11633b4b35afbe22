// POST /validate-policy, and PatternPolicies enforced on /mutate through a ClusterWatch fed by
// fake informers: a policy that fits the catalog is allowed, one that does not is refused (422)
// with every problem; a namespace whose policy cannot be read yet refuses pods (fail closed),
// one without a policy is served as before; templates' availability follows the namespace's labels.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { V1Namespace } from '#kube';
import { buildApp } from '../../src/server/app.js';
import { inject } from '../../src/engine/index.js';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import { loadBuiltinTemplates } from '../../src/catalog/index.js';
import type { PolicyObject } from '../../src/catalog/policy-watch.js';
import type { TemplateObject } from '../../src/catalog/template-watch.js';
import { FakeInformer } from '../helpers/fake-informer.js';
import { podReview, testDeps } from './fixtures.js';

const live = new LiveCatalog({ base: [loadBuiltinTemplates()] });

function policyReview(spec: unknown, options: { operation?: string; name?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'c3c9d1f0-0000-4000-8000-000000000001',
      kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternPolicy' },
      resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patternpolicies' },
      name: options.name ?? 'default',
      namespace: 'team-a',
      operation: options.operation ?? 'CREATE',
      object: {
        apiVersion: 'podpattern.dev/v1alpha1',
        kind: 'PatternPolicy',
        metadata: { name: options.name ?? 'default', namespace: 'team-a', uid: 'u' },
        spec,
      },
    },
  };
}

async function post(app: ReturnType<typeof buildApp>, url: string, body: unknown): Promise<Record<string, any>> {
  const response = await app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(response.statusCode, 200, `${url} answers 200`);
  return (JSON.parse(response.body) as { response: Record<string, any> }).response;
}

t.test('/validate-policy', async (t) => {
  const app = buildApp(testDeps({ catalog: () => live.current() }));
  t.teardown(() => app.close());
  t.match(
    await post(
      app,
      '/validate-policy',
      policyReview({ require: [{ template: 'log-normalizer' }], narrow: { 'https-proxy': { 'upstream-port': { maximum: 9000 } } } }),
    ),
    { allowed: true },
    'a policy that fits is allowed',
  );
  const widening = await post(
    app,
    '/validate-policy',
    policyReview({ narrow: { 'https-proxy': { 'upstream-port': { maximum: 70000 } } }, forbid: ['gitsync'] }),
  );
  t.match(widening, { allowed: false, status: { code: 422 } });
  t.match(widening.status.message, /^podpattern's catalog refuses PatternPolicy team-a\/default \(2 problems\): /);
  t.match(widening.status.message, /spec.narrow.https-proxy.upstream-port.maximum: 70000 is wider than the template's maximum 65535/);
  t.match(widening.status.message, /spec.forbid\[0\]: no template named 'gitsync' in the catalog \(did you mean git-sync\?\)/);
  const other = await post(app, '/validate-policy', policyReview({}, { name: 'extra' }));
  t.match(other, { allowed: false });
  t.match(other.status.message, /named 'default'/);
  t.match(
    await post(app, '/validate-policy', policyReview({ forbid: 'x' }, { operation: 'DELETE' })),
    { allowed: true },
    'a delete is allowed',
  );
  const hostile = Object.fromEntries(
    Array.from({ length: 32 }, (_, i) => [
      `t${i}-${'x'.repeat(50)}`,
      Object.fromEntries(Array.from({ length: 32 }, (_, j) => [`p${j}-${'y'.repeat(200)}`, { pattern: `^${'(a|b)'.repeat(100)}$` }])),
    ]),
  );
  const flooded = await post(app, '/validate-policy', policyReview({ narrow: hostile }));
  t.match(flooded, { allowed: false });
  t.ok(
    flooded.status.message.length < 16 * 1024,
    `a policy with a thousand hostile bounds gets a bounded denial (${flooded.status.message.length} characters)`,
  );
  t.match(flooded.status.message, /the patterns together expand to about \d+ instructions/, 'its patterns are never compiled');
  const many = await post(
    app,
    '/validate-policy',
    policyReview({ narrow: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`t${i}`, { p: { minimum: 1 } }])) }),
  );
  t.match(many.status.message, /\(32 problems\)[\s\S]*- and \d+ more$/, 'every problem counted, at most twenty listed');
  const viaTemplates = await post(app, '/validate-template', policyReview({ forbid: ['gitsync'] }));
  t.match(viaTemplates, { allowed: false }, '/validate-template judges a PatternPolicy the same way');
  t.match(viaTemplates.status.message, /spec.forbid\[0\]: no template named 'gitsync'/);
  const noCatalog = buildApp(testDeps({ catalog: () => undefined }));
  t.teardown(() => noCatalog.close());
  t.match(await post(noCatalog, '/validate-policy', policyReview({})), { allowed: false }, 'refused until the catalog is loaded');
});

function silent(): pino.Logger {
  return pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
}

function namespace(name: string, labels: Record<string, string> = {}): V1Namespace {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

type NamedPolicy = PolicyObject & { metadata: { name: string } };

function policyObject(namespaceName: string, spec: unknown): NamedPolicy {
  return { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default', namespace: namespaceName }, spec };
}

t.test('/mutate holds pods to their namespace policy, and fails closed where it cannot be read', async (t) => {
  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  // Policies are namespaced: the fake's cache is keyed by name only, which is enough here.
  const policies = new FakeInformer<NamedPolicy>();
  const watch = new ClusterWatch({ templates, namespaces, policies, live, writeCondition: async () => {}, logger: silent() });
  await watch.start();
  templates.list([]);
  namespaces.list([namespace('team-a', { 'podpattern.dev/policy': 'require' }), namespace('team-b')]);
  const app = buildApp(
    testDeps({
      inject,
      catalog: () => live.current(),
      nativeSidecars: 'always',
      serverVersion: () => ({ major: 1, minor: 37 }),
      namespaceAnnotations: (n) => watch.namespaceAnnotations(n),
      namespaceLabels: (n) => watch.namespaceLabels(n),
      policy: (n) => watch.policy(n),
    }),
  );
  t.teardown(() => app.close());
  const bare = (ns: string, annotations: Record<string, string> = {}) =>
    podReview({
      namespace: ns,
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: ns, annotations },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      },
    });

  const unsynced = await post(app, '/mutate', bare('team-a'));
  t.match(
    unsynced,
    { allowed: false, status: { details: { causes: [{ reason: 'required-by-policy' }] } } },
    'a labelled namespace is refused pods before the policies have synced',
  );
  t.match(await post(app, '/mutate', bare('team-b')), { allowed: true }, 'a namespace without the label is served');

  policies.list([policyObject('team-a', { require: [{ template: 'log-normalizer' }] })]);
  const given = await post(app, '/mutate', bare('team-a'));
  t.equal(given.allowed, true);
  const patch = JSON.parse(Buffer.from(String(given.patch), 'base64').toString('utf8')) as {
    op: string;
    path: string;
    value?: { name?: string };
  }[];
  t.ok(
    patch.some((op) => op.value?.name === 'log-normalizer'),
    'a bare pod gets the required template',
  );
  const optOut = await post(app, '/mutate', bare('team-a', { 'podpattern.dev/inject': 'false' }));
  t.match(optOut, { allowed: false, status: { details: { causes: [{ reason: 'required-by-policy' }] } } }, 'and an opt-out is refused');

  policies.delete(policies.cache.get('default') as NamedPolicy);
  t.match(
    await post(app, '/mutate', bare('team-a', { 'podpattern.dev/inject': 'false' })),
    { allowed: true },
    'a deleted policy no longer applies',
  );
  policies.add(policyObject('team-a', { require: 'nonsense' }));
  t.match(
    await post(app, '/mutate', bare('team-a')),
    { allowed: false, status: { details: { causes: [{ reason: 'required-by-policy' }] } } },
    'a stored policy that cannot be read refuses pods',
  );
  await watch.stop();
});
