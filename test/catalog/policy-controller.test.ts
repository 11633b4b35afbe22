// The policy controller through ClusterWatch with fake informers: a namespace gets the
// podpattern.dev/policy label its policy calls for (and loses it with the policy), and the policy's
// status says whether it fits the catalog and what it resolved; nothing is written again when
// nothing changed, and a catalog change re-judges every policy.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { V1Namespace } from '#kube';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import { loadBuiltinTemplates } from '../../src/catalog/index.js';
import type { PolicyObject } from '../../src/catalog/policy-watch.js';
import type { PolicyStatus } from '../../src/catalog/policy-controller.js';
import type { TemplateObject } from '../../src/catalog/template-watch.js';
import { FakeInformer } from '../helpers/fake-informer.js';

type NamedPolicy = PolicyObject & { metadata: { name: string } };

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('labels and status follow the policy', async (t) => {
  const live = new LiveCatalog({ base: [loadBuiltinTemplates()], debounceMs: 1 });
  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  const policies = new FakeInformer<NamedPolicy>();
  const labels: Array<[string, string | null]> = [];
  const statuses: Array<[string, PolicyStatus]> = [];
  const watch = new ClusterWatch({
    templates,
    namespaces,
    policies,
    live,
    writeCondition: async () => {},
    now: () => new Date('2026-01-02T03:04:05.678Z'),
    logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() })),
    policyWriter: {
      labelNamespace: async (namespace, value) => {
        labels.push([namespace, value]);
        namespaces.update({ metadata: { name: namespace, labels: value === null ? {} : { 'podpattern.dev/policy': value } } });
      },
      writeStatus: async (namespace, status) => void statuses.push([namespace, status]),
    },
  });
  await watch.start();
  namespaces.list([{ metadata: { name: 'team-a', labels: {} } }]);
  const policy = (spec: unknown, generation = 1): NamedPolicy => ({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternPolicy',
    metadata: { name: 'default', namespace: 'team-a', generation },
    spec,
  });

  policies.add(policy({ require: [{ template: 'log-normalizer' }], narrow: { 'https-proxy': { 'upstream-port': { maximum: 9000 } } } }));
  await until(() => statuses.length === 1, 'the first status');
  t.same(labels, [['team-a', 'require']], 'a policy that requires templates labels its namespace require');
  const [namespace, status] = statuses[0] as [string, PolicyStatus];
  t.equal(namespace, 'team-a');
  t.match(status, {
    observedGeneration: 1,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Resolved', lastTransitionTime: '2026-01-02T03:04:05Z' }],
  });
  t.same(
    status.templates.map((x) => [x.name, x.role]),
    [
      ['log-normalizer', 'required'],
      ['https-proxy', 'narrowed'],
    ],
  );
  t.match(status.templates[0]?.hash, /^[0-9a-f]{16}$/, 'with the content hash in force');

  // The status written back arrives as an update: nothing to write.
  policies.update({
    ...policy({ require: [{ template: 'log-normalizer' }], narrow: { 'https-proxy': { 'upstream-port': { maximum: 9000 } } } }),
    status,
  } as NamedPolicy);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(statuses.length, 1, 'an unchanged policy writes nothing');
  t.equal(labels.length, 1);

  policies.update(policy({ forbid: ['git-sync'], require: [{ template: 'gone' }] }, 2));
  await until(() => statuses.length === 2, 'the second status');
  t.match(statuses[1]?.[1], {
    observedGeneration: 2,
    conditions: [{ status: 'False', reason: 'Invalid', message: /spec.require\[0\].template: no template named 'gone'/ }],
  });

  policies.update(policy({ forbid: ['git-sync'] }, 3));
  await until(() => labels.length === 2, 'the label change');
  t.same(labels[1], ['team-a', 'present'], 'a policy requiring nothing: present');

  watch.catalogChanged();
  await new Promise((resolve) => setImmediate(resolve));
  policies.delete(policies.cache.get('default') as NamedPolicy);
  await until(() => labels.length === 3, 'the label removal');
  t.same(labels[2], ['team-a', null], 'the label goes with the policy');
  await watch.stop();
});
