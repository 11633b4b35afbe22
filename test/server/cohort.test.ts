// Work given in one turn of the event loop runs together after it, in order, in cohorts of a
// bounded size; each promise settles with its own work's result or error.
import t from 'tap';
import { cohort } from '../../src/server/cohort.js';

t.test('work given in one turn runs after it, in order, before any of its promises continue', async (t) => {
  const together = cohort();
  const seen: string[] = [];
  const run = (name: string) =>
    together(5_000, () => {
      seen.push(name);
      return name.toUpperCase();
    }).then((result) => {
      seen.push(`${result} answered`);
      return result;
    });
  const all = Promise.all([run('a'), run('b'), run('c')]);
  t.same(seen, [], 'nothing runs while the turn is still going');
  t.same(await all, ['A', 'B', 'C']);
  t.same(seen, ['a', 'b', 'c', 'A answered', 'B answered', 'C answered']);
});

t.test('work that throws rejects its own promise only', async (t) => {
  const together = cohort();
  const failing = together(10, () => {
    throw new Error('broken review');
  });
  const fine = together(10, () => 'fine');
  await t.rejects(failing, /broken review/);
  t.equal(await fine, 'fine');
});

t.test('work given while a cohort runs waits for the next turn, after the running one is answered', async (t) => {
  const together = cohort();
  const seen: string[] = [];
  let later: Promise<void> | undefined;
  const first = together(10, () => {
    seen.push('first');
    later = together(10, () => void seen.push('later'));
  }).then(() => void seen.push('first answered'));
  const second = together(10, () => void seen.push('second')).then(() => void seen.push('second answered'));
  await Promise.all([first, second]);
  await later;
  t.same(seen, ['first', 'second', 'first answered', 'second answered', 'later']);
});

t.test('a full cohort runs at once, by count or by the length of its bodies, and the next one starts', async (t) => {
  const together = cohort({ reviews: 3, length: 1_000 });
  const seen: string[] = [];
  const all = [together(10, () => void seen.push('a')), together(10, () => void seen.push('b')), together(10, () => void seen.push('c'))];
  t.same(seen, ['a', 'b', 'c'], 'the third review fills the cohort: it runs without waiting for the turn to end');
  all.push(together(10, () => void seen.push('d')));
  t.same(seen, ['a', 'b', 'c'], 'the fourth starts the next cohort, which waits');
  all.push(together(995, () => void seen.push('large')));
  t.same(seen, ['a', 'b', 'c', 'd', 'large'], 'with it the cohort holds 1,005 characters of bodies: it runs');
  all.push(together(5_000, () => void seen.push('alone')));
  t.same(seen, ['a', 'b', 'c', 'd', 'large', 'alone'], 'a body longer than a cohort holds runs alone, at once');
  all.push(together(10, () => void seen.push('e')));
  await Promise.all(all);
  t.same(seen, ['a', 'b', 'c', 'd', 'large', 'alone', 'e']);
});
