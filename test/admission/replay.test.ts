// The replay cache: a review seen before is answered again for its new uid, and only when that
// is provably the same review; anything it cannot prove is parsed and decided as usual.
import t from 'tap';
import { ReplayCache, type ReplayInputs, type Replayed } from '../../src/admission/replay.js';
import { allow } from '../../src/admission/respond.js';
import type { Decision } from '../../src/admission/review.js';
import { podReview } from '../server/fixtures.js';

const catalog = {};
const inputs = () => [catalog];

function answerFor(uid: string, namespace = 'shop'): Replayed {
  const decision: Decision = { outcome: 'skipped', reason: 'not-requested', templates: [], problemTemplates: [], response: allow(uid) };
  return { apiVersion: 'admission.k8s.io/v1', facts: { uid, namespace, pod: 'web', kind: 'Pod', operation: 'CREATE', dryRun: false }, decision };
}

/** Remembers `first` as the API server's first review, then asks for `second`. */
function replay(first: string, second: string, cache = new ReplayCache()) {
  const uid = (JSON.parse(first) as { request: { uid: string } }).request.uid;
  const answer = answerFor(uid);
  rememberIn(cache, first, inputs, answer);
  return { hit: answerOf(cache, second, inputs), answer, cache };
}

/** The remembered answer for a body and the body's uid, as the route reads a lookup. */
function answerOf(cache: ReplayCache, body: string, from: ReplayInputs = inputs) {
  const found = cache.lookup(body, from);
  return found?.answer === undefined ? undefined : { answer: found.answer, uid: found.uid };
}

/** Keeps an answer for a body, as the route does after deciding. */
function rememberIn(cache: ReplayCache, body: string, from: ReplayInputs, answer: Replayed): void {
  const found = cache.lookup(body, from);
  if (found !== undefined) cache.remember(found, from, answer);
}

const review = (uid: string, extra: Record<string, unknown> = {}) => JSON.stringify({ ...podReview({ uid }), ...extra });

t.test('the same review with another uid is answered from memory, with its own uid', async (t) => {
  const { hit, answer, cache } = replay(review('aaaa-1111'), review('bbbb-2222'));
  t.equal(hit?.answer, answer, 'the remembered answer, the same object');
  t.equal(hit?.uid, 'bbbb-2222');
  t.equal(answerOf(cache, review('cccc-3333'), inputs)?.uid, 'cccc-3333', 'and again');
  t.equal(cache.size, 1);
});

t.test('the API server field order (kind first, as Go encodes it) works the same', async (t) => {
  const goOrder = (uid: string) => `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"${uid}","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE","object":{"metadata":{"generateName":"web-"}}}}`;
  t.equal(replay(goOrder('1'), goOrder('2')).hit?.uid, '2');
});

t.test('anything else about the review makes it a different review', async (t) => {
  t.equal(replay(review('a'), review('b', { extra: 1 })).hit, undefined, 'a field added');
  t.equal(replay(review('a'), JSON.stringify(podReview({ uid: 'b', dryRun: true }))).hit, undefined, 'dryRun');
  t.equal(replay(review('a'), JSON.stringify(podReview({ uid: 'b', namespace: 'other' }))).hit, undefined, 'namespace');
  t.equal(replay(review('a'), ` ${review('b')}`).hit, undefined, 'even whitespace');
});

t.test('a different catalog, namespace annotations or server version: not answered, and forgotten', async (t) => {
  const cache = new ReplayCache();
  let state = [{}, {}, {}];
  const changing = () => state;
  rememberIn(cache, review('a'), changing, answerFor('a'));
  t.ok(answerOf(cache, review('b'), changing), 'unchanged inputs');
  for (const index of [0, 1, 2]) {
    rememberIn(cache, review('a'), changing, answerFor('a'));
    state = state.map((value, i) => (i === index ? {} : value)); // a new object: a change
    t.equal(answerOf(cache, review('b'), changing), undefined, `input ${index} changed`);
    t.equal(cache.size, 0, 'the stale answer is dropped');
  }
  // The namespace the inputs are asked for is the review's.
  const asked: (string | undefined)[] = [];
  rememberIn(cache, review('a'), (namespace) => (asked.push(namespace), []), answerFor('a', 'shop'));
  t.same(asked, ['shop']);
});

t.test('a uid that is not where request.uid comes from is never replayed', async (t) => {
  // An earlier "uid" key elsewhere in the body: the split finds it first.
  const decoy = (decoyUid: string, uid: string) => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","meta":{"uid":"${decoyUid}"},"request":{"uid":"${uid}","kind":{"group":"","version":"v1","kind":"Pod"}}}`;
  const cache = new ReplayCache();
  rememberIn(cache, decoy('x', 'real'), inputs, answerFor('real'));
  t.equal(cache.size, 0, 'the split uid is not the parsed one: not even kept');
  rememberIn(cache, decoy('same', 'same'), inputs, answerFor('same'));
  t.equal(cache.size, 1, 'kept while the two happen to agree...');
  t.equal(answerOf(cache, decoy('other', 'same'), inputs), undefined, '...but the proof on first reuse fails');
  t.equal(cache.size, 0, 'and the entry is dropped');

  // A duplicate request.uid: JSON.parse keeps the last one.
  const duplicate = (first: string, last: string) => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${first}","uid":"${last}","kind":{"group":"","version":"v1","kind":"Pod"}}}`;
  rememberIn(cache, duplicate('u', 'u'), inputs, answerFor('u'));
  t.equal(answerOf(cache, duplicate('v', 'u'), inputs), undefined);

  // A key holding an escaped quote before "uid" in its name.
  const escaped = (uid: string) => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","a\\"uid":"${uid}","request":{"uid":"${uid}","kind":{"group":"","version":"v1","kind":"Pod"}}}`;
  rememberIn(cache, escaped('w'), inputs, answerFor('w'));
  t.equal(answerOf(cache, escaped('z'), inputs), undefined);
});

t.test('bodies it will not split are left to the parser', async (t) => {
  const cache = new ReplayCache({ maxBodyBytes: 2000 });
  for (const [name, body] of [
    ['no uid', '{"kind":"AdmissionReview"}'],
    ['an escaped uid', review('a\\u0062')],
    ['a uid of other characters', review('a b')],
    ['an unterminated uid', '{"request":{"uid":"abc'],
    ['a long body', review('a', { pad: 'x'.repeat(3000) })],
    ['not JSON', '{"request":{"uid":"abc"}'],
  ] as const) {
    rememberIn(cache, body, inputs, answerFor('a'));
    t.equal(answerOf(cache, body, inputs), undefined, name);
  }
  const notJson = (uid: string) => `{"kind":"AdmissionReview","request":{"uid":"${uid}"}`;
  rememberIn(cache, notJson('abc'), inputs, answerFor('abc'));
  t.equal(cache.size, 1, 'kept on the word of the caller...');
  t.equal(answerOf(cache, notJson('def'), inputs), undefined, '...until the proof on first reuse fails to parse');
  t.equal(cache.size, 0);
});

t.test('failed answers are not kept; the oldest answer goes first', async (t) => {
  const cache = new ReplayCache({ maxEntries: 2 });
  const failedAnswer = answerFor('a');
  failedAnswer.decision = { ...failedAnswer.decision, outcome: 'error', reason: 'internal-error' } as Decision;
  rememberIn(cache, review('a'), inputs, failedAnswer);
  t.equal(cache.size, 0);
  for (const n of [1, 2, 3]) rememberIn(cache, review('a', { n }), inputs, answerFor('a'));
  t.equal(cache.size, 2);
  t.equal(answerOf(cache, review('b', { n: 1 }), inputs), undefined, 'the first went');
  t.ok(answerOf(cache, review('b', { n: 3 }), inputs));
});
