// The adapters' shared poll loop over many polls: what it holds between polls stays flat (one
// abort listener, one timer at most), and a stop wakes a sleeping loop at once.
import { getEventListeners } from 'node:events';
import t from 'tap';
import { pollUntilAborted, type AdapterIo } from '../../src/adapters/poll.js';

const quiet: AdapterIo = { record: () => undefined, diagnostic: () => undefined };
const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

t.test('10,000 polls hold the listener and timer counts flat', async (t) => {
  const stop = new AbortController();
  const POLLS = 10_000;
  const seen = new Map<number, { listeners: number; timers: number }>();
  let polls = 0;
  await pollUntilAborted(
    () => {
      polls++;
      if (polls === 10 || polls % 2_500 === 0)
        seen.set(polls, { listeners: getEventListeners(stop.signal, 'abort').length, timers: timers() });
      if (polls === POLLS) stop.abort();
    },
    0,
    stop.signal,
    quiet,
  );
  t.equal(polls, POLLS, 'every poll ran, then the stop ended the loop');
  const first = seen.get(10);
  t.comment(`after 10 polls: ${JSON.stringify(first)}; after ${POLLS}: ${JSON.stringify(seen.get(POLLS))}`);
  for (const [at, counts] of seen) t.same(counts, first, `after ${at} polls: the same abort listeners and timers as after 10`);
  t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'and none left once the loop has ended');
});

t.test('a stop during the sleep between polls ends the loop without waiting for the interval', async (t) => {
  const stop = new AbortController();
  let polls = 0;
  let polled: () => void = () => undefined;
  const first = new Promise<void>((resolve) => (polled = resolve));
  // An hour between polls: only the stop can end this loop before the test's own timeout.
  const loop = pollUntilAborted(
    () => {
      polls++;
      polled();
    },
    3_600_000,
    stop.signal,
    quiet,
  );
  await first;
  await new Promise<void>((resolve) => setImmediate(resolve)); // the loop is in its sleep now
  stop.abort();
  await loop;
  t.equal(polls, 1, 'one poll, then the stop');
  t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'no listener left behind');
});
