// What a review gets for a namespace while the PatternPolicy informer cannot read: its list
// refused (RBAC without the chart's rule), or its watch broken after it had synced. A namespace
// labelled as having a policy fails closed unless its policy is known; others are not held.
import { Writable } from 'node:stream';
import t from 'tap';
import pino from 'pino';
import { PolicyWatch, type PolicyObject } from '../../src/catalog/policy-watch.js';
import { FakeInformer } from '../helpers/fake-informer.js';

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
const labelled = { 'podpattern.dev/policy': 'require' };

function policy(namespace: string): PolicyObject & { metadata: { name: string } } {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternPolicy',
    metadata: { name: 'default', namespace },
    spec: { require: [{ template: 'log-normalizer' }] },
  };
}

t.test('a list refused by RBAC: labelled namespaces are refused, others not held', async (t) => {
  const informer = new FakeInformer<PolicyObject & { metadata: { name: string } }>();
  informer.failNextStart = new Error(
    'patternpolicies.podpattern.dev is forbidden: User "system:serviceaccount:podpattern:podpattern" cannot list',
  );
  const watch = new PolicyWatch({ informer, logger: silent, maxBackoffMs: 60_000 });
  t.teardown(() => watch.sync.stop());
  await watch.sync.start();
  t.equal(watch.sync.synced, false, 'the informer has not synced');
  t.equal(watch.view('team-a', labelled), 'unreadable', 'a namespace labelled as having a policy fails closed');
  t.equal(watch.view('team-b', {}), undefined, 'a namespace without the label is not held to a policy');
  t.equal(watch.view('team-c', undefined), undefined, 'nor one whose labels are not known');
});

t.test('a watch broken after it synced: known policies still hold, a labelled namespace without one fails closed', async (t) => {
  const informer = new FakeInformer<PolicyObject & { metadata: { name: string } }>();
  const watch = new PolicyWatch({ informer, logger: silent, maxBackoffMs: 60_000 });
  t.teardown(() => watch.sync.stop());
  await watch.sync.start();
  informer.list([policy('team-a')]);
  t.equal(watch.sync.synced, true);
  t.match(watch.view('team-a', labelled), { namespace: 'team-a', require: [{ template: 'log-normalizer' }] });
  informer.error(new Error('the watch was refused: 403 Forbidden'));
  t.equal(watch.sync.synced, false, 'an error unsyncs the informer');
  t.match(watch.view('team-a', labelled), { namespace: 'team-a' }, 'the policy it read is still enforced');
  t.equal(watch.view('team-new', labelled), 'unreadable', 'a namespace labelled since, whose policy it has not read, fails closed');
  t.equal(watch.view('team-b', {}), undefined, 'an unlabelled namespace is not held');
});
