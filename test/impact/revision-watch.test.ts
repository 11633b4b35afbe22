// The server's revision watch, driven by a fake informer: nothing is known of a template's
// revisions until the first list has been applied; adds, updates and deletes from the watch
// change which revision is promoted; past the bound a warning says how many were left out; a
// ControllerRevision of no template is not kept.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { V1ControllerRevision } from '#kube';
import { RevisionWatch } from '../../src/impact/revision-watch.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { FakeInformer } from '../helpers/fake-informer.js';
import { canaryObject, clusterTemplate } from './fixtures.js';

const first = clusterTemplate(canaryObject('registry.example/proxy:1'));
const second = clusterTemplate(canaryObject('registry.example/proxy:2'));
const revision = (template: typeof first, number: number, promoted: boolean) =>
  structuredClone(revisionObject(template, { uid: 'u' }, 'podpattern', number, promoted)) as unknown as V1ControllerRevision;

function setup(maxRevisions?: number) {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  const informer = new FakeInformer<V1ControllerRevision>();
  const watch = new RevisionWatch({ informer, logger, ...(maxRevisions === undefined ? {} : { maxRevisions }) });
  return { informer, watch, lines };
}

t.test('unknown until listed; then the watch keeps the promoted revision', async (t) => {
  const { informer, watch } = setup();
  await watch.sync.start();
  informer.add(revision(first, 1, true));
  t.equal(watch.revisions.of('edge-proxy'), undefined, 'not listed yet: not known');
  informer.list([revision(first, 1, true), revision(second, 2, false)]);
  t.equal(watch.sync.synced, true);
  t.equal(watch.revisions.of('edge-proxy')?.latest?.hash, first.hash);
  informer.update(revision(second, 2, true));
  t.equal(watch.revisions.of('edge-proxy')?.latest?.hash, second.hash, 'a promotion from the watch');
  informer.delete(revision(second, 2, true));
  t.equal(watch.revisions.of('edge-proxy')?.latest?.hash, first.hash, 'and a delete');
  // One that names no PatternTemplate owner is no template revision: not kept.
  informer.add({ metadata: { name: 'stray', namespace: 'podpattern' } } as unknown as V1ControllerRevision);
  t.equal(watch.revisions.counts().revisions, 1, 'a revision of no template is not kept');
});

t.test('past the bound: a warning with how many were left out', async (t) => {
  const { informer, watch, lines } = setup(1);
  informer.list([revision(first, 1, true), revision(second, 2, false)]);
  t.same(watch.revisions.counts(), { revisions: 1, leftOut: 1 });
  t.match(
    lines.find((l) => l.includes('more template revisions than podpattern keeps')),
    /"leftOut":1/,
  );
});
