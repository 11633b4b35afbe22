// /mutate with the real engine and the built-in catalog: the patch applies to the pod that was
// sent, denials list every problem, re-review converges. Every golden Pod case goes through
// /mutate too, in both AdmissionReview versions (test/helpers/webhook-leg.ts).
import t from 'tap';
import jsonpatch from 'fast-json-patch';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { buildApp } from '../../src/server/app.js';
import { podReview, testDeps } from './fixtures.js';

const builtin = buildCatalog([loadBuiltinTemplates()]);

async function mutate(body: unknown) {
  const app = buildApp(testDeps({ inject, catalog: () => builtin }));
  const res = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
  await app.close();
  return res.json<{ apiVersion: string; response: Record<string, any> }>();
}

t.test('https-proxy: the returned patch applies to the review pod; re-review changes nothing', async (t) => {
  const review = podReview({
    annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' },
  }) as any;
  const { response } = await mutate(review);
  t.equal(response.allowed, true);
  t.equal(response.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString());
  t.equal(jsonpatch.validate(ops, structuredClone(review.request.object)), undefined, 'the patch validates against the pod');
  const pod = jsonpatch.applyPatch(structuredClone(review.request.object), ops, true, false).newDocument as PodLike;
  const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  t.ok(names.includes('app'), 'the app container is kept');
  t.ok(names.length > 1, `a proxy container was added (${names.join(', ')})`);
  t.ok(pod.metadata?.annotations?.['podpattern.dev/status'], 'status recorded');
  const again = await mutate({ ...review, request: { ...review.request, object: pod } });
  t.same(again.response, { uid: review.request.uid, allowed: true }, 'converges');
});

t.test('a denial lists every problem', async (t) => {
  const { response } = await mutate(
    podReview({ annotations: { 'podpattern.dev/sidecar': 'no-such, https-proxy', 'https-proxy.podpattern.dev/colour': 'red' } }),
  );
  t.equal(response.allowed, false);
  t.equal(response.status.code, 403);
  t.match(response.status.message, /no-such/);
  t.match(response.status.message, /colour/);
  t.match(response.status.message, /tls-secret/);
  t.ok(response.status.details.causes.length >= 3, 'one cause per problem');
});

t.test('a repeated pod gets the same patch under its own uid', async (t) => {
  const app = buildApp(testDeps({ inject, catalog: () => builtin }));
  t.teardown(() => app.close());
  const answers = [];
  for (const uid of ['first', 'second']) {
    const review = podReview({
      uid,
      generateName: 'web-',
      annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' },
    });
    const res = await app.inject({
      method: 'POST',
      url: '/mutate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(review),
    });
    answers.push(res.json().response);
  }
  t.equal(answers[0].uid, 'first');
  t.equal(answers[1].uid, 'second');
  t.equal(answers[1].patch, answers[0].patch);
});

t.test('reviews sent at once over their own sockets are each answered with their own pod and uid', async (t) => {
  // Reviews read in one turn of the event loop are decided together (src/server/cohort.ts): no
  // answer may go to another review's request, and a denial among them stays its own.
  const app = buildApp(testDeps({ inject, catalog: () => builtin }));
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const reviews = Array.from(
    { length: 16 },
    (_, i) =>
      podReview({
        uid: `uid-${i}`,
        name: `web-${i}`,
        annotations:
          i === 5
            ? { 'podpattern.dev/sidecar': 'no-such' }
            : { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': `tls-${i}` },
      }) as any,
  );
  const answers = await Promise.all(
    reviews.map(async (review) => {
      const res = await fetch(`http://127.0.0.1:${port}/mutate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify(review),
      });
      return ((await res.json()) as { response: Record<string, any> }).response;
    }),
  );
  answers.forEach((response, i) => {
    const review = reviews[i];
    t.equal(response.uid, `uid-${i}`, `review ${i} is answered under its own uid`);
    if (i === 5) {
      t.equal(response.allowed, false, 'the review asking for a template that does not exist is denied');
      t.match(response.status.message, /no-such/);
      return;
    }
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString());
    const pod = jsonpatch.applyPatch(structuredClone(review.request.object), ops, true, false).newDocument as PodLike;
    t.equal(pod.metadata?.name, `web-${i}`);
    const secrets = (pod.spec?.volumes ?? []).flatMap((v) => (v.secret?.secretName === undefined ? [] : [v.secret.secretName]));
    t.same(secrets, [`tls-${i}`], `review ${i}'s pod mounts its own secret`);
  });
});
