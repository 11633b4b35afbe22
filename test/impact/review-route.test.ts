// POST /validate-template with the impact check: the API server's review of an UPDATE or DELETE
// of a PatternTemplate, answered by the app over app.inject(), with an index of pods the real
// engine injected. Breaking refuses naming the workload and the parameter; a force reason
// (bounded) accepts and records the change (never on a dry run); changing warns, counted per
// namespace; a description-only change answers with no warning; an index not synced, or a budget
// spent, says what was not checked.
import t from 'tap';
import { buildApp } from '../../src/server/app.js';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import type { ForcedChange } from '../../src/impact/review.js';
import { testDeps } from '../server/fixtures.js';
import { deploymentResolver, impactDeps, injectedPod, liveWith, proxyObject } from './fixtures.js';

type Review = { operation: 'UPDATE' | 'DELETE'; object?: unknown; oldObject: unknown; dryRun?: boolean };

async function setup(options: { synced?: boolean; maxChecked?: number } = {}) {
  const stored = proxyObject();
  const live = liveWith(stored);
  const resolver = deploymentResolver();
  const index = new InjectedPodIndex({ resolver });
  for (const name of ['web-7d9f-a', 'web-7d9f-b']) index.upsert(injectedPod(live, name, { port: '9090' }));
  index.upsert(injectedPod(live, 'api-5c8b-a', { replicaSet: 'api-5c8b' }));
  index.upsert(injectedPod(live, 'api-5c8b-b', { namespace: 'billing', replicaSet: 'api-5c8b' }));
  await resolver.idle();
  index.synced = options.synced ?? true;
  const forced: ForcedChange[] = [];
  const deps = { ...impactDeps(live, index, forced), ...(options.maxChecked === undefined ? {} : { maxChecked: options.maxChecked }) };
  const app = buildApp(testDeps({ templateImpact: deps }));
  const send = async (review: Review) => {
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'c0ffee00-0000-4000-8000-000000000001',
        kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
        resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patterntemplates' },
        name: 'edge-proxy',
        operation: review.operation,
        object: review.object ?? null,
        oldObject: review.oldObject,
        dryRun: review.dryRun === true,
        userInfo: { username: 'ops@example.org' },
      },
    };
    const response = await app.inject({
      method: 'POST',
      url: '/validate-template?timeout=10s',
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return JSON.parse(response.body).response as { allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
  };
  return { stored, send, forced, index, close: () => app.close() };
}

t.test('a maximum below a value in use is refused, naming the Deployment and the parameter', async (t) => {
  const { stored, send, forced, close } = await setup();
  t.teardown(close);
  const answer = await send({ operation: 'UPDATE', object: proxyObject(8080), oldObject: stored });
  t.equal(answer.allowed, false);
  t.equal(answer.status?.code, 403);
  t.match(answer.status?.message, /would deny the next pods of 1 workload/);
  t.match(answer.status?.message, /- shop: Deployment\/web \(2 pods\): .*upstream-port/);
  t.notMatch(answer.status?.message, /Deployment\/api/, 'workloads within the bound are not named');
  t.match(answer.status?.message, /podpattern\.dev\/force-reason/, 'says how to force it');
  t.same(forced, []);
});

t.test('a force reason accepts it, with a warning, and records it once (not for a dry run)', async (t) => {
  const { stored, send, forced, close } = await setup();
  t.teardown(close);
  const object = proxyObject(8080, { annotations: { 'podpattern.dev/force-reason': 'port 9090 is retired this week' } });
  const dry = await send({ operation: 'UPDATE', object, oldObject: stored, dryRun: true });
  t.equal(dry.allowed, true);
  t.same(forced, [], 'a dry run records nothing');
  const answer = await send({ operation: 'UPDATE', object, oldObject: stored });
  t.equal(answer.allowed, true);
  t.match(answer.warnings?.[0], /force-reason accepts this change to PatternTemplate edge-proxy.*shop Deployment\/web/);
  t.equal(forced.length, 1);
  t.match(forced[0], {
    template: 'edge-proxy',
    uid: 'tpl-uid-1',
    operation: 'UPDATE',
    reason: 'port 9090 is retired this week',
    user: 'ops@example.org',
    summary: /shop Deployment\/web/,
  });
});

t.test('a force reason already on the stored template does not force a new change', async (t) => {
  const { send, close } = await setup();
  t.teardown(close);
  const annotations = { 'podpattern.dev/force-reason': 'an earlier reason' };
  const answer = await send({
    operation: 'UPDATE',
    object: proxyObject(8080, { annotations }),
    oldObject: proxyObject(65535, { annotations }),
  });
  t.equal(answer.allowed, false);
  t.match(answer.status?.message, /was given for an earlier change/);
});

t.test('a force reason that is empty or over 1,024 characters is refused', async (t) => {
  const { stored, send, close } = await setup();
  t.teardown(close);
  for (const reason of ['', '   ', 'x'.repeat(1025)]) {
    const answer = await send({
      operation: 'UPDATE',
      object: proxyObject(65535, { annotations: { 'podpattern.dev/force-reason': reason } }),
      oldObject: stored,
    });
    t.equal(answer.allowed, false, `${reason.length} characters: refused`);
    t.match(answer.status?.message, /podpattern\.dev\/force-reason is/);
  }
  const longest = await send({
    operation: 'UPDATE',
    object: proxyObject(8080, { annotations: { 'podpattern.dev/force-reason': 'x'.repeat(1024) } }),
    oldObject: stored,
  });
  t.equal(longest.allowed, true, '1,024 characters: accepted');
});

t.test('a description-only change is accepted with no warning', async (t) => {
  const { stored, send, close } = await setup();
  t.teardown(close);
  const answer = await send({
    operation: 'UPDATE',
    object: proxyObject(65535, { description: 'Terminates TLS; described better.' }),
    oldObject: stored,
  });
  t.same(answer, { uid: 'c0ffee00-0000-4000-8000-000000000001', allowed: true });
});

t.test('a changing update is accepted with warnings counted per namespace', async (t) => {
  const { stored, send, close } = await setup();
  t.teardown(close);
  const answer = await send({ operation: 'UPDATE', object: proxyObject(65535, { image: 'registry.example/proxy:2' }), oldObject: stored });
  t.equal(answer.allowed, true);
  t.match(answer.warnings?.[0], /changes the next pods of 3 workloads \(by namespace: shop: 2, billing: 1\)/);
  t.ok(answer.warnings?.includes('shop Deployment/web: containers[edge-proxy].image'));
  t.ok(
    answer.warnings!.every((w) => w.length <= 256),
    'each warning within what the API server passes on whole',
  );
});

t.test('deleting a template in use is refused the same way, and forced by a reason on it', async (t) => {
  const { stored, send, forced, close } = await setup();
  t.teardown(close);
  const refused = await send({ operation: 'DELETE', oldObject: stored });
  t.equal(refused.allowed, false);
  t.match(refused.status?.message, /deleting PatternTemplate edge-proxy would deny the next pods of 3 workloads/);
  t.match(refused.status?.message, /no template named 'edge-proxy'/);
  const answer = await send({
    operation: 'DELETE',
    oldObject: proxyObject(65535, { annotations: { 'podpattern.dev/force-reason': 'replaced by edge-proxy-v2' } }),
  });
  t.equal(answer.allowed, true);
  t.match(forced, [{ operation: 'DELETE', reason: 'replaced by edge-proxy-v2' }]);
});

t.test('an index not synced yet: accepted with a warning that the impact was not checked', async (t) => {
  const { stored, send, close } = await setup({ synced: false });
  t.teardown(close);
  const answer = await send({ operation: 'UPDATE', object: proxyObject(8080), oldObject: stored });
  t.equal(answer.allowed, true);
  t.match(answer.warnings, [/has not listed the injected pods yet.*was not checked/]);
});

t.test('past the budget of owners: accepted, the rest counted as not checked', async (t) => {
  const { stored, send, index, close } = await setup({ maxChecked: 2 });
  t.teardown(close);
  t.equal(index.usages('edge-proxy').length, 3);
  const answer = await send({ operation: 'UPDATE', object: proxyObject(65535, { image: 'registry.example/proxy:2' }), oldObject: stored });
  t.equal(answer.allowed, true);
  t.ok(
    answer.warnings?.some((w) => /was not checked for 1 owner /.test(w)),
    'says how many were not checked',
  );
});

t.test('a new cluster template that takes the place of a --catalog-dir one is checked as an update of it; a new name is not', async (t) => {
  const { LiveCatalog } = await import('../../src/catalog/live.js');
  const { validateTemplate } = await import('../../src/catalog/validate.js');
  const { templateOfObject } = await import('../../src/catalog/live.js');
  const fromFile = validateTemplate(templateOfObject(proxyObject()), 'file:/etc/podpattern/edge-proxy.yaml', 'edge-proxy');
  if (!fromFile.ok) throw new Error('invalid');
  const live = new LiveCatalog({ base: [{ templates: [fromFile.template], failures: [] }] });
  const index = new InjectedPodIndex();
  index.upsert(injectedPod(live, 'web-7d9f-a', { port: '9090' }));
  index.synced = true;
  const app = buildApp(testDeps({ templateImpact: impactDeps(live, index) }));
  t.teardown(() => app.close());
  const create = async (object: Record<string, any>) => {
    const request = {
      uid: 'c0ffee00-0000-4000-8000-000000000002',
      kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
      name: object.metadata.name,
      operation: 'CREATE',
      object,
    };
    const response = await app.inject({
      method: 'POST',
      url: '/validate-template',
      payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }),
      headers: { 'content-type': 'application/json' },
    });
    return JSON.parse(response.body).response;
  };
  const shadowing = await create(proxyObject(8080));
  t.equal(shadowing.allowed, false);
  t.match(shadowing.status.message, /shop: ReplicaSet\/web-7d9f \(1 pod\): .*upstream-port/);
  const fresh = proxyObject(8080);
  fresh.metadata.name = 'another-proxy';
  t.same(await create(fresh), { uid: 'c0ffee00-0000-4000-8000-000000000002', allowed: true });
});
