// The labels of every namespace, as the review of a template's canary selector reads them: kept
// from the informer's add, update and delete events, and not given before the informer synced.
import { pino } from 'pino';
import t from 'tap';
import type { V1Namespace } from '#kube';
import { NamespaceDefaults } from '../../src/catalog/namespace-defaults.js';
import { FakeInformer } from '../helpers/fake-informer.js';

const ns = (name: string, labels?: Record<string, string>): V1Namespace => ({
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
});

t.test('labels follow the namespaces; undefined until synced', async (t) => {
  const informer = new FakeInformer<V1Namespace>();
  const defaults = new NamespaceDefaults({ informer, logger: pino({ level: 'silent' }) });
  t.equal(defaults.allLabels(), undefined, 'not synced: unknown');
  await defaults.sync.start();
  informer.list([ns('a', { stage: 'canary' }), ns('b')]);
  t.same([...defaults.allLabels()!], [{ stage: 'canary' }, {}]);
  informer.update(ns('a', { stage: 'prod' }));
  informer.delete(ns('b'));
  t.same([...defaults.allLabels()!], [{ stage: 'prod' }]);
  await defaults.sync.stop();
});
