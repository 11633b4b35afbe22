// The owner an Event names: the controller reference first, malformed ones skipped, names cut.
import t from 'tap';
import { ownerOf } from '../../src/events/owner.js';

const ref = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name,
  uid: `uid-${name}`,
  ...extra,
});

t.test('the controller reference wins; without one, the first well-formed one', async (t) => {
  t.same(ownerOf([ref('a'), ref('b', { controller: true }), ref('c', { controller: true })]), {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name: 'b',
    uid: 'uid-b',
    controller: true,
  });
  t.same(
    ownerOf([ref('a', { controller: false }), ref('b')]),
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: 'uid-a' },
    'no controller field unless it is true',
  );
  t.same(
    ownerOf([null, 7, { kind: 'ReplicaSet', name: 'x' }, ref('ok')])?.name,
    'ok',
    'references missing a field or not objects are skipped',
  );
  t.equal(ownerOf([{ name: 'x' }]), undefined);
  t.equal(ownerOf('not a list'), undefined);
  t.equal(ownerOf(undefined), undefined);
});

t.test("every field is cut to a Kubernetes name's length, and a short one kept whole", async (t) => {
  const long = 'n'.repeat(3 * 1024 * 1024);
  const owner = ownerOf([{ apiVersion: long, kind: `é${long}`, name: long, uid: 'u'.repeat(253) }]);
  t.equal(owner?.apiVersion.length, 253);
  t.equal(owner?.name, 'n'.repeat(253));
  t.equal(owner?.kind, `é${'n'.repeat(252)}`, 'cut by characters, not bytes');
  t.equal(owner?.uid, 'u'.repeat(253), 'exactly at the limit: unchanged');
});
