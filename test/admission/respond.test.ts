// Building AdmissionResponses: optional fields only when they carry something.
import t from 'tap';
import { allow, deny, denyInternal, toReview } from '../../src/admission/respond.js';
import { decide, podLabel } from '../../src/admission/review.js';
import { parseGoDuration } from '../../src/server/timeout.js';
import { fakeCatalog } from '../server/fixtures.js';

t.test('allow: no patch key for an empty patch, no warnings key for none', async (t) => {
  t.same(allow('u'), { uid: 'u', allowed: true });
  const patch = [{ op: 'add' as const, path: '/metadata/labels', value: { a: 'b' } }];
  const response = allow('u', patch, ['w']);
  t.same(response, {
    uid: 'u',
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    warnings: ['w'],
  });
  t.equal(allow('v', patch).patch, response.patch, 'the same patch is encoded the same way (and once)');
});

t.test('deny and denyInternal', async (t) => {
  t.same(deny('u', 'msg', [{ code: 'missing-parameter', message: 'm' }]), {
    uid: 'u',
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message: 'msg', details: { causes: [{ reason: 'missing-parameter', message: 'm' }] } },
  });
  t.same(denyInternal('u', 'x'), { uid: 'u', allowed: false, status: { code: 500, reason: 'InternalError', message: 'x' } });
  t.same(toReview('admission.k8s.io/v1beta1', allow('u')), {
    apiVersion: 'admission.k8s.io/v1beta1',
    kind: 'AdmissionReview',
    response: { uid: 'u', allowed: true },
  });
});

t.test('decide without HTTP: a pod CREATE with no object is an internal error, answered by the failure mode', async (t) => {
  const request = { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' };
  const deps = {
    inject: () => {
      throw new Error('unreachable');
    },
    catalog: () => fakeCatalog,
    nativeSidecars: 'auto' as const,
    failureMode: 'open' as const,
  };
  t.match(decide(request, deps), { outcome: 'error', reason: 'internal-error', response: { allowed: true } });
  t.match(decide(request, { ...deps, failureMode: 'closed' }), { outcome: 'error', response: { allowed: false, status: { code: 500 } } });
});

t.test('podLabel: name, else generateName*, else the request name', async (t) => {
  const base = { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' } };
  t.equal(podLabel({ ...base, object: { metadata: { name: 'a', generateName: 'b-' } } }), 'a');
  t.equal(podLabel({ ...base, object: { metadata: { generateName: 'b-' } } }), 'b-*');
  t.equal(podLabel({ ...base, name: 'r', object: {} }), 'r');
});

t.test('Go durations from ?timeout=', async (t) => {
  t.equal(parseGoDuration('10s'), 10_000);
  t.equal(parseGoDuration('1.5s'), 1500);
  t.equal(parseGoDuration('500ms'), 500);
  t.equal(parseGoDuration('1m30s'), 90_000);
  t.equal(parseGoDuration('10'), undefined);
  t.equal(parseGoDuration('s'), undefined);
  t.equal(parseGoDuration(''), undefined);
  t.equal(parseGoDuration('1h2m3.5s'), 3_723_500);
  t.equal(parseGoDuration('250us'), 0.25);
  t.equal(parseGoDuration('10s10'), undefined, 'a trailing number without a unit');
  t.equal(parseGoDuration('10s '), undefined, 'anything after the last unit');
  t.equal(parseGoDuration(' 10s'), undefined, 'anything before the first number');
  t.equal(parseGoDuration('10x'), undefined);
  t.equal(parseGoDuration('10s'), 10_000, 'the same again: no state is left behind by a refused one');
});
