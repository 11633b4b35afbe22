// The Event recorder with a fake writer and a fake clock: what is written, when, how it is
// rate-limited, and that a failing API server costs a log line, never a review.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { EventRecorder, type EventWrite, type ReviewEvent } from '../../src/events/recorder.js';

function setup(options: { fail?: boolean; maxPending?: number; maxKeys?: number } = {}) {
  let now = 1_000_000;
  const writes: EventWrite[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const recorder = new EventRecorder({
    logger,
    windowMs: 60_000,
    ...(options.maxPending === undefined ? {} : { maxPending: options.maxPending }),
    ...(options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys }),
    now: () => now,
    writer: async (write) => {
      if (options.fail === true) throw new Error('events is forbidden');
      writes.push(write);
    },
  });
  return { recorder, writes, lines, advance: (ms: number) => (now += ms) };
}

function injected(owner = 'web-7d9f', pod = 'web-7d9f-*'): ReviewEvent {
  return {
    type: 'Normal',
    reason: 'Injected',
    key: 'https-proxy',
    involved: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, namespace: 'shop', uid: 'u1' },
    message: `pod ${pod}: injected https-proxy`,
  };
}

t.test('record() writes nothing synchronously; the write follows off the review path', async (t) => {
  const { recorder, writes } = setup();
  recorder.record(injected());
  t.equal(writes.length, 0, 'nothing written during the review');
  await recorder.idle();
  t.equal(writes.length, 1);
  t.equal(writes[0]!.count, 1);
  t.equal(writes[0]!.event.involved.name, 'web-7d9f');
});

t.test('one Event per key and window; the rest become one summary Event that counts them', async (t) => {
  const { recorder, writes, advance } = setup();
  for (let i = 0; i < 100; i++) recorder.record(injected());
  recorder.record({ ...injected(), key: 'git-sync' }); // another template set: another key
  recorder.record(injected('api-5c4b')); // another owner: another key
  await recorder.idle();
  t.equal(writes.length, 3, 'a burst of 100 replicas is one Event');
  recorder.sweep();
  await recorder.idle();
  t.equal(writes.length, 3, 'nothing summarised before the window ends');
  advance(60_000);
  recorder.sweep();
  await recorder.idle();
  t.equal(writes.length, 4, 'one summary, for the only key with suppressed reviews');
  t.equal(writes[3]!.count, 99);
  advance(60_000);
  recorder.sweep();
  recorder.record(injected());
  await recorder.idle();
  t.equal(writes.length, 5, 'an idle window is forgotten: the next review writes at once');
  t.equal(writes[4]!.count, 1);
});

t.test('a failing writer is logged, and recording goes on', async (t) => {
  const { recorder, lines } = setup({ fail: true });
  recorder.record(injected());
  await recorder.idle();
  t.match(lines, [{ msg: 'cannot create Event', err: 'events is forbidden', involved: 'ReplicaSet/web-7d9f' }]);
  recorder.record(injected('other'));
  await recorder.idle();
  t.equal(lines.filter((l) => l.msg === 'cannot create Event').length, 2);
});

t.test('pending writes and tracked keys are bounded; drops are logged sparingly', async (t) => {
  const { recorder, writes, lines } = setup({ maxPending: 3, maxKeys: 5 });
  for (let i = 0; i < 10; i++) recorder.record(injected(`rs-${i}`));
  await recorder.idle();
  t.equal(writes.length, 3, 'only maxPending wait to be written');
  const drops = lines.filter((l) => l.msg === 'Events dropped: too many pending or distinct');
  t.same(
    drops.map((l) => l.dropped),
    [1, 2, 4],
    'logged at 1, 2, 4, … drops',
  );
  for (let i = 10; i < 20; i++) recorder.record(injected(`rs-${i}`));
  await recorder.idle();
  t.equal(writes.length, 6, 'a full table of keys evicts the least recently used: new owners are still written');
  t.ok(recorder.tracked() <= 5, 'and the table stays at maxKeys');
});

t.test('stop() waits for queued writes', async (t) => {
  const { recorder, writes } = setup();
  recorder.start();
  recorder.record(injected());
  await recorder.stop();
  t.equal(writes.length, 1);
});

t.test('a flood of distinct owners in one namespace never drops the Events of another', async (t) => {
  const { recorder, writes } = setup();
  const flood = (i: number): ReviewEvent => ({
    type: 'Warning',
    reason: 'Denied',
    key: 'unknown-template',
    message: 'podpattern denied a pod (unknown-template)',
    involved: { apiVersion: 'apps/v1', kind: 'Deployment', name: `owner-${i}`, namespace: 'attacker' },
  });
  for (let i = 0; i < 12_000; i++) {
    recorder.record(flood(i));
    if (i % 50 === 0) await recorder.idle();
  }
  await recorder.idle();
  const flooded = writes.length;
  t.ok(flooded <= 50, `the flooding namespace got its budget of Events, ${flooded}, not 12,000`);
  recorder.record(injected('web-7d9f'));
  recorder.record(injected('api-5c4b'));
  await recorder.idle();
  t.same(
    writes.slice(flooded).map((w) => `${w.event.involved.namespace}/${w.event.involved.name}`),
    ['shop/web-7d9f', 'shop/api-5c4b'],
    'another namespace is written at once',
  );
});

t.test("a namespace's budget refills with time; the table of keys and namespaces stays bounded", async (t) => {
  const { recorder, writes, advance } = setup({ maxKeys: 100 });
  const other = (i: number, namespace = 'busy'): ReviewEvent => ({
    ...injected(`rs-${i}`),
    involved: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${i}`, namespace },
  });
  for (let i = 0; i < 500; i++) recorder.record(other(i));
  await recorder.idle();
  const burst = writes.length;
  t.ok(burst > 0 && burst < 500, `a burst of ${burst}`);
  advance(60_000);
  for (let i = 500; i < 1000; i++) recorder.record(other(i));
  await recorder.idle();
  t.ok(writes.length > burst, 'a minute later the namespace writes again');
  for (let i = 0; i < 300; i++) recorder.record(other(i, `ns-${i}`));
  await recorder.idle();
  t.ok(recorder.tracked() <= 100, `at most maxKeys windows tracked (${recorder.tracked()})`);
  recorder.record(other(1, 'fresh'));
  await recorder.idle();
  t.equal(writes.at(-1)?.event.involved.namespace, 'fresh', 'a full table evicts the least recently used key, and the new one is written');
});
