// The log writer of `podpattern serve`: lines are written in order, in one write per batch,
// within maxDelayMs, at once past maxBytes, and flush() writes whatever is pending.
import t from 'tap';
import { pino } from 'pino';
import { LineBatcher } from '../../src/log/line-batcher.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text) };
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('lines written close together go out in one write, in order, within the delay', async (t) => {
  const out = sink();
  const writer = new LineBatcher(out, { maxDelayMs: 20 });
  writer.write('a\n');
  writer.write('b\n');
  await new Promise((resolve) => setImmediate(resolve));
  writer.write('c\n');
  t.same(out.writes, [], 'nothing yet');
  await sleep(60);
  t.same(out.writes, ['a\nb\nc\n'], 'one write');
  writer.write('d\n');
  await sleep(60);
  t.same(out.writes, ['a\nb\nc\n', 'd\n'], 'a quiet line goes out on its own, a delay later');
});

t.test('past maxBytes the batch is written at once', async (t) => {
  const out = sink();
  const writer = new LineBatcher(out, { maxDelayMs: 10_000, maxBytes: 10 });
  writer.write('12345\n');
  t.same(out.writes, []);
  writer.write('67890\n');
  t.same(out.writes, ['12345\n67890\n'], 'written synchronously, no timer needed');
  writer.write('x\n');
  writer.flush();
  t.same(out.writes, ['12345\n67890\n', 'x\n'], 'and the timer of the next batch is still honoured by flush');
});

t.test('flush writes what is pending now; with nothing pending it writes nothing', async (t) => {
  const out = sink();
  const writer = new LineBatcher(out, { maxDelayMs: 20 });
  writer.flush();
  t.same(out.writes, []);
  writer.write('x\n');
  writer.flush();
  t.same(out.writes, ['x\n']);
  await sleep(40);
  t.same(out.writes, ['x\n'], 'the cleared timer writes nothing more');
});

t.test('pino writes through it: one JSON line per call', async (t) => {
  const out = sink();
  const writer = new LineBatcher(out);
  const logger = pino({ base: undefined, timestamp: false }, writer);
  logger.info({ uid: 'u1' }, 'review');
  logger.info({ uid: 'u2' }, 'review');
  writer.flush();
  t.same(out.writes.join('').trim().split('\n').map((line) => JSON.parse(line)), [
    { level: 30, uid: 'u1', msg: 'review' },
    { level: 30, uid: 'u2', msg: 'review' },
  ]);
});
