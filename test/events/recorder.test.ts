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
  const logger = pino(new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
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
    type: 'Normal', reason: 'Injected', key: 'https-proxy',
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
  t.same(drops.map((l) => l.dropped), [1, 2, 4], 'logged at 1, 2, 4, … drops');
  for (let i = 10; i < 20; i++) recorder.record(injected(`rs-${i}`));
  await recorder.idle();
  t.equal(writes.length, 3, 'no new key beyond maxKeys until a sweep forgets idle ones');
});

t.test('stop() waits for queued writes', async (t) => {
  const { recorder, writes } = setup();
  recorder.start();
  recorder.record(injected());
  await recorder.stop();
  t.equal(writes.length, 1);
});
