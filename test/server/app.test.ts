// /mutate through app.inject(): the answers, the log line and the metrics, with a fake engine.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { buildApp, type AppDeps } from '../../src/server/app.js';
import type { AdmissionApiVersion, AdmissionRequest } from '../../src/admission/types.js';
import type { InjectionResult } from '../../src/engine/types.js';
import { fakeInject, podReview, testDeps } from './fixtures.js';

async function post(deps: ReturnType<typeof testDeps>, body: unknown, url = '/mutate') {
  const app = buildApp(deps);
  const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  await app.close();
  return { status: res.statusCode, headers: res.headers, json: res.json<Record<string, any>>() };
}

t.test('injects: echoes uid and apiVersion, base64 JSONPatch, warnings', async (t) => {
  const deps = testDeps();
  const { status, json } = await post(deps, podReview({ annotations: { 'podpattern.dev/sidecar': 'demo' } }));
  t.equal(status, 200);
  t.equal(json.apiVersion, 'admission.k8s.io/v1');
  t.equal(json.kind, 'AdmissionReview');
  t.equal(json.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
  t.equal(json.response.allowed, true);
  t.equal(json.response.patchType, 'JSONPatch');
  t.same(JSON.parse(Buffer.from(json.response.patch, 'base64').toString()), [
    { op: 'add', path: '/spec/containers/-', value: { name: 'demo', image: 'busybox:1.36' } },
  ]);
  t.same(json.response.warnings, ['a friendly warning']);
  const [line] = deps.lines().filter((l) => l.msg === 'review');
  t.match(line, {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    namespace: 'shop',
    pod: 'web',
    templates: ['demo'],
    outcome: 'injected',
    reason: 'injected',
    dryRun: false,
  });
  t.type(line?.ms, 'number');
  t.notOk(JSON.stringify(deps.lines()).includes('nginx:1.27'), 'the pod body is never logged');
  const metrics = await deps.metrics.registry.metrics();
  t.match(metrics, /podpattern_reviews_total\{outcome="injected",reason="injected",dry_run="false"\} 1/);
  t.match(metrics, /podpattern_injections_total\{template="demo",pattern="sidecar"\} 1/);
  t.match(metrics, /podpattern_review_duration_seconds_count\{outcome="injected"\} 1/);
});

t.test('v1beta1 is answered in v1beta1', async (t) => {
  const { json } = await post(
    testDeps(),
    podReview({ apiVersion: 'admission.k8s.io/v1beta1', annotations: { 'podpattern.dev/sidecar': 'demo' } }),
  );
  t.equal(json.apiVersion, 'admission.k8s.io/v1beta1');
  t.equal(json.response.patchType, 'JSONPatch');
});

t.test('skipped: allowed, no patch, no warnings key', async (t) => {
  const deps = testDeps();
  const { json } = await post(deps, podReview({ generateName: 'web-7d9c-' }));
  t.same(json.response, { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true });
  t.match(
    deps.lines().find((l) => l.msg === 'review'),
    { outcome: 'skipped', reason: 'not-requested', pod: 'web-7d9c-*' },
  );
});

t.test('denied: allowed false, 403 status listing problems, causes by code', async (t) => {
  const deps = testDeps();
  const { status, json } = await post(deps, podReview({ annotations: { 'podpattern.dev/sidecar': 'nope' } }));
  t.equal(status, 200, 'a decision about a pod is always HTTP 200');
  t.equal(json.response.allowed, false);
  t.match(json.response.status, { code: 403, reason: 'Forbidden', message: /template 'nope' is not in the catalog/ });
  t.same(json.response.status.details.causes, [
    {
      reason: 'unknown-template',
      message: "template 'nope' is not in the catalog; run 'podpattern templates' for the list",
      field: 'template nope',
    },
  ]);
  t.notOk('patch' in json.response);
  t.match(
    deps.lines().find((l) => l.msg === 'review'),
    { outcome: 'denied', reason: 'unknown-template', templates: ['nope'] },
  );
});

t.test('not a Pod, or not a CREATE: allowed unchanged without calling the engine', async (t) => {
  let called = 0;
  const deps = testDeps({
    inject: () => {
      called += 1;
      throw new Error('must not be called');
    },
  });
  const review = podReview() as any;
  review.request.kind = { group: 'apps', version: 'v1', kind: 'Deployment' };
  let res = await post(deps, review);
  t.same(res.json.response, { uid: review.request.uid, allowed: true });
  const update = podReview() as any;
  update.request.operation = 'UPDATE';
  res = await post(deps, update);
  t.same(res.json.response, { uid: update.request.uid, allowed: true });
  const sub = podReview() as any;
  sub.request.subResource = 'ephemeralcontainers';
  res = await post(deps, sub);
  t.equal(res.json.response.allowed, true);
  t.equal(called, 0);
  t.same(
    deps
      .lines()
      .filter((l) => l.msg === 'review')
      .map((l) => l.reason),
    ['not-a-pod', 'not-create', 'not-a-pod'],
  );
});

t.test('dryRun: same answer, logged as dry run, no injection counted', async (t) => {
  const deps = testDeps();
  const wet = await post(deps, podReview({ annotations: { 'podpattern.dev/sidecar': 'demo' } }));
  const dry = await post(deps, podReview({ annotations: { 'podpattern.dev/sidecar': 'demo' }, dryRun: true }));
  t.same(dry.json, wet.json);
  t.same(
    deps
      .lines()
      .filter((l) => l.msg === 'review')
      .map((l) => l.dryRun),
    [false, true],
  );
  const metrics = await deps.metrics.registry.metrics();
  t.match(metrics, /podpattern_injections_total\{template="demo",pattern="sidecar"\} 1\n/);
  t.match(metrics, /podpattern_reviews_total\{outcome="injected",reason="injected",dry_run="true"\} 1/);
});

t.test('engine failure: fail open allows with a warning, fail closed denies with 500', async (t) => {
  const open = testDeps({ failureMode: 'open' });
  const a = await post(open, podReview({ annotations: { 'podpattern.dev/sidecar': 'boom' } }));
  t.equal(a.status, 200);
  t.equal(a.json.response.allowed, true);
  t.match(a.json.response.warnings, [/admitted without injection \(failure mode open\)/]);
  const failedLine = open.lines().find((l) => l.msg === 'review failed');
  t.match(failedLine, { outcome: 'error', reason: 'internal-error', level: 50, err: { message: 'engine exploded' } });

  const closed = testDeps({ failureMode: 'closed' });
  const b = await post(closed, podReview({ annotations: { 'podpattern.dev/sidecar': 'boom' } }));
  t.equal(b.status, 200);
  t.equal(b.json.response.allowed, false);
  t.match(b.json.response.status, { code: 500, reason: 'InternalError', message: /failure mode closed/ });
  t.notOk(JSON.stringify(b.json).includes('engine exploded'), 'internal details stay in the log');
});

t.test('no catalog loaded yet: the failure mode answers', async (t) => {
  const { json } = await post(testDeps({ catalog: () => undefined, failureMode: 'closed' }), podReview());
  t.equal(json.response.allowed, false);
  t.match(json.response.status.message, /not loaded its template catalog/);
});

t.test('engine options: namespace from the request, native sidecars from config', async (t) => {
  let seen: unknown;
  const deps = testDeps({
    nativeSidecars: 'always',
    inject: (_pod, _catalog, options) => {
      seen = options;
      return { outcome: 'skipped', reason: 'not-requested', warnings: [] };
    },
  });
  await post(deps, podReview({ namespace: 'payments' }));
  t.same(seen, { nativeSidecars: 'always', namespace: 'payments' });
});

t.test('?timeout= is honoured: a valid one is accepted, an exhausted one answers by the failure mode, junk is a 400', async (t) => {
  const ok = await post(testDeps(), podReview({ annotations: { 'podpattern.dev/sidecar': 'demo' } }), '/mutate?timeout=10s');
  t.equal(ok.json.response.patchType, 'JSONPatch');
  const late = await post(testDeps({ failureMode: 'closed' }), podReview(), '/mutate?timeout=1ns');
  t.equal(late.status, 200);
  t.match(late.json.response.status, { code: 500, message: /within the API server's timeout/ });
  const bad = await post(testDeps(), podReview(), '/mutate?timeout=soon');
  t.equal(bad.status, 400);
  t.equal(bad.json.code, 'invalid-timeout');
});

t.test('draining: every response over a real socket carries Connection: close, and only while draining', async (t) => {
  // Set on the raw response (not through app.inject, which never reaches the socket layer).
  const deps = testDeps();
  const app = buildApp(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const { port } = app.server.address() as { port: number };
  const send = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const review = JSON.stringify(podReview());
  t.same(await send('POST', '/mutate', review), { status: 200, connection: 'keep-alive' });
  deps.lifecycle.startDraining();
  t.same(await send('POST', '/mutate', review), { status: 200, connection: 'close' }, 'a review');
  t.same(await send('POST', '/mutate', '{'), { status: 400, connection: 'close' }, 'an error');
  t.same(await send('GET', '/nowhere'), { status: 404, connection: 'close' }, 'a 404');
});

t.test('a replica burst: the same review under new uids is answered, logged and counted for each uid', async (t) => {
  let engineRuns = 0;
  let annotations: Record<string, string> = {};
  const deps = testDeps({
    inject: (pod, _catalog, options) => (
      (engineRuns += 1),
      options.namespaceAnnotations?.['podpattern.dev/sidecar'] === 'other'
        ? { outcome: 'skipped', reason: 'opted-out', warnings: [] }
        : fakeInject(pod)
    ),
    namespaceAnnotations: () => annotations,
  });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  const send = async (uid: string, url = '/mutate?timeout=10s') => {
    const res = await app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(podReview({ uid, generateName: 'web-', annotations: { 'podpattern.dev/sidecar': 'demo' } })),
    });
    return res.json<{ response: Record<string, unknown> }>();
  };
  const first = await send('uid-1');
  const second = await send('uid-2');
  t.equal(engineRuns, 2, 'the engine decides each review');
  t.same(second.response, { ...first.response, uid: 'uid-2' });
  t.same(
    deps
      .lines()
      .filter((l) => l.msg === 'review')
      .map((l) => [l.uid, l.pod, l.outcome, l.templates]),
    [
      ['uid-1', 'web-*', 'injected', ['demo']],
      ['uid-2', 'web-*', 'injected', ['demo']],
    ],
  );
  t.match(await deps.metrics.registry.metrics(), /podpattern_injections_total\{template="demo",pattern="sidecar"\} 2/);

  annotations = { 'podpattern.dev/sidecar': 'other' }; // the namespace changed
  t.equal((await send('uid-3')).response.patch, undefined, 'a namespace change is decided anew');

  const late = await send('uid-4', '/mutate?timeout=1ns');
  t.match(
    late.response,
    { uid: 'uid-4', allowed: true, warnings: [/within the API server's timeout/] },
    'past the deadline the failure mode answers',
  );
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/mutate?timeout=soon',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(podReview({ uid: 'uid-5', generateName: 'web-', annotations: { 'podpattern.dev/sidecar': 'demo' } })),
      })
    ).statusCode,
    400,
    'and a bad timeout is still a 400',
  );
});

t.test('the log line and the duration histogram carry the time a review took, through app.inject and over a socket', async (t) => {
  const slowInject: typeof fakeInject = (pod) => {
    const until = performance.now() + 20;
    while (performance.now() < until); // an engine that takes 20 ms
    return fakeInject(pod);
  };
  const deps = testDeps({ inject: slowInject });
  const app = buildApp(deps);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const payload = JSON.stringify(podReview({ annotations: { 'podpattern.dev/sidecar': 'demo' } }));
  await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload });
  const { port } = app.server.address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/mutate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: payload,
  });
  t.equal(res.status, 200);
  const times = deps
    .lines()
    .filter((l) => l.msg === 'review')
    .map((l) => l.ms as number);
  t.equal(times.length, 2);
  // At least the engine's 20 ms, in milliseconds: the upper end only catches a unit mistake (µs would be 20,000), so it is far above any machine's figure.
  for (const ms of times) t.ok(ms >= 20 && ms < 15_000, `ms ${ms}`);
  const sum = Number(/podpattern_review_duration_seconds_sum\{outcome="injected"\} (\S+)/.exec(await deps.metrics.registry.metrics())?.[1]);
  t.ok(sum >= 0.04, `histogram sum ${sum} s`);
});

t.test('every kind of answer is written byte for byte as JSON.stringify writes it', async (t) => {
  const { buildCatalog, loadBuiltinTemplates } = await import('../../src/catalog/index.js');
  const { inject } = await import('../../src/engine/index.js');
  const { decide } = await import('../../src/admission/review.js');
  const { toReview } = await import('../../src/admission/respond.js');
  const { realisticPod } = await import('../../bench/pod.js');
  const catalog = buildCatalog([loadBuiltinTemplates()]);
  const denied: InjectionResult = {
    outcome: 'denied',
    reason: 'clash-port',
    problems: [
      { code: 'clash-port', template: 'a"b', message: 'port 8443/TCP: "quoted" \\ back\u2028slash, é, 🙂' },
      { code: 'invalid-pod', message: 'no template field' },
    ],
    message: 'podpattern cannot inject this pod (2 problems):\n- one\n- two',
    warnings: ['w "1"', 'w\t2'],
  };
  const cases: { name: string; deps: Partial<AppDeps>; review: Record<string, unknown> }[] = [
    {
      name: 'injected by the real engine, with its warnings',
      deps: { inject, catalog: () => catalog },
      review: podReview({ object: realisticPod('7') }),
    },
    {
      name: 'injected, v1beta1',
      deps: {},
      review: podReview({ apiVersion: 'admission.k8s.io/v1beta1', annotations: { 'podpattern.dev/sidecar': 'demo' } }),
    },
    { name: 'skipped', deps: {}, review: podReview() },
    {
      name: 'skipped with warnings',
      deps: { inject: () => ({ outcome: 'skipped', reason: 'opted-out', warnings: ['\u0000 odd \u001f "warning"'] }) },
      review: podReview(),
    },
    { name: 'denied, causes with and without a field', deps: { inject: () => denied }, review: podReview() },
    {
      name: 'engine failed, failure mode open',
      deps: { failureMode: 'open' },
      review: podReview({ annotations: { 'podpattern.dev/sidecar': 'boom' } }),
    },
    {
      name: 'engine failed, failure mode closed',
      deps: { failureMode: 'closed' },
      review: podReview({ annotations: { 'podpattern.dev/sidecar': 'boom' } }),
    },
    { name: 'catalog not loaded', deps: { failureMode: 'closed', catalog: () => undefined }, review: podReview() },
    {
      name: 'a uid with a quote and a backslash',
      deps: {},
      review: podReview({ uid: 'a"b\\c', annotations: { 'podpattern.dev/sidecar': 'demo' } }),
    },
  ];
  for (const c of cases) {
    const deps = testDeps(c.deps);
    const app = buildApp(deps);
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(c.review),
    });
    await app.close();
    const { apiVersion, request } = c.review as { apiVersion: AdmissionApiVersion; request: AdmissionRequest };
    const expected = JSON.stringify(toReview(apiVersion, decide(request, deps).response));
    t.equal(res.statusCode, 200, `${c.name}: 200`);
    t.equal(res.body, expected, `${c.name}: the same bytes`);
  }
});
