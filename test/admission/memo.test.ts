// The engine-result memo: same input, same catalog snapshot -> the remembered result; anything
// different -> the engine again. Bounded in entries and in pod size.
import t from 'tap';
import { memoizeInject } from '../../src/admission/memo.js';
import type { Catalog } from '../../src/model/template.js';
import type { InjectOptions, InjectionResult, PodLike } from '../../src/engine/types.js';
import { fakeCatalog } from '../server/fixtures.js';

function counting() {
  const calls: PodLike[] = [];
  const inject = (pod: PodLike): InjectionResult => {
    calls.push(pod);
    return { outcome: 'skipped', reason: 'not-requested', warnings: [String(calls.length)] };
  };
  return { calls, inject };
}
const pod = (name: string, extra = ''): PodLike => ({ metadata: { generateName: name, annotations: { x: extra } } });
const options: InjectOptions = { nativeSidecars: 'auto', namespace: 'a' };

t.test('a repeated pod is answered from memory; options, pod or catalog changes are not', async (t) => {
  const { calls, inject } = counting();
  const memo = memoizeInject(inject);
  const first = memo(pod('web-'), fakeCatalog, options);
  t.equal(memo(pod('web-'), fakeCatalog, options), first, 'same pod, same catalog: same result object');
  t.equal(calls.length, 1);
  memo(pod('web-'), fakeCatalog, { ...options, namespace: 'b' });
  memo(pod('web-'), fakeCatalog, { ...options, nativeSidecars: 'always' });
  memo(pod('api-'), fakeCatalog, options);
  const newSnapshot: Catalog = { ...fakeCatalog };
  memo(pod('web-'), newSnapshot, options);
  t.equal(calls.length, 5, 'each difference runs the engine');
});

t.test('bounded: least recently used entries go; big pods are never kept', async (t) => {
  const { calls, inject } = counting();
  const memo = memoizeInject(inject, { maxEntries: 2, maxPodBytes: 200 });
  memo(pod('a'), fakeCatalog, options);
  memo(pod('b'), fakeCatalog, options);
  memo(pod('a'), fakeCatalog, options); // a is now the most recent
  memo(pod('c'), fakeCatalog, options); // evicts b
  t.equal(calls.length, 3);
  memo(pod('a'), fakeCatalog, options);
  t.equal(calls.length, 3, 'a stayed');
  memo(pod('b'), fakeCatalog, options);
  t.equal(calls.length, 4, 'b was evicted');
  const big = pod('big', 'x'.repeat(500));
  memo(big, fakeCatalog, options);
  memo(big, fakeCatalog, options);
  t.equal(calls.length, 6, 'a pod over maxPodBytes runs the engine every time');
});

t.test('errors are not remembered', async (t) => {
  let n = 0;
  const memo = memoizeInject(() => { n += 1; throw new Error('boom'); });
  t.throws(() => memo(pod('a'), fakeCatalog, options));
  t.throws(() => memo(pod('a'), fakeCatalog, options));
  t.equal(n, 2);
});
