// The log writer of `podpattern serve`: lines of one event-loop turn go out in one write, in
// order, before the loop moves on; flush() writes whatever is pending at once.
import t from 'tap';
import { pino } from 'pino';
import { TurnWriter } from '../../src/log/turn-writer.js';

function sink() {
  const writes: string[] = [];
  return { writes, write: (text: string) => void writes.push(text) };
}

t.test('the lines of one turn are written together, in order, in the same turn', async (t) => {
  const out = sink();
  const writer = new TurnWriter(out);
  writer.write('a\n');
  writer.write('b\n');
  writer.write('c\n');
  t.same(out.writes, [], 'nothing yet: still the same turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(out.writes, ['a\nb\nc\n'], 'one write for the turn');
  writer.write('d\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(out.writes, ['a\nb\nc\n', 'd\n'], 'a quiet line goes out on its own');
});

t.test('flush writes what is pending now, and a flush with nothing pending writes nothing', async (t) => {
  const out = sink();
  const writer = new TurnWriter(out);
  writer.flush();
  t.same(out.writes, []);
  writer.write('x\n');
  writer.flush();
  t.same(out.writes, ['x\n']);
  await new Promise((resolve) => setImmediate(resolve));
  t.same(out.writes, ['x\n'], 'the scheduled flush finds nothing left');
});

t.test('pino writes through it: one JSON line per call', async (t) => {
  const out = sink();
  const writer = new TurnWriter(out);
  const logger = pino({ base: undefined, timestamp: false }, writer);
  logger.info({ uid: 'u1' }, 'review');
  logger.info({ uid: 'u2' }, 'review');
  writer.flush();
  t.same(out.writes.join('').trim().split('\n').map((line) => JSON.parse(line)), [
    { level: 30, uid: 'u1', msg: 'review' },
    { level: 30, uid: 'u2', msg: 'review' },
  ]);
});
