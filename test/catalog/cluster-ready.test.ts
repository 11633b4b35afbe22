// Readiness means listed and swapped in: ClusterWatch against a small fake API server (plain
// HTTP on port 0) whose list answers are held back by the test. client-node's informers emit
// 'connect' before they list, on the first start and again after an expired watch (410).
import t from 'tap';
import type { ServerResponse } from 'node:http';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { loadKubeConfig, watchCluster } from '../../src/catalog/cluster.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import type { Catalog } from '../../src/model/template.js';
import { startFakeApiServer } from '../helpers/fake-apiserver.js';

const template = {
  apiVersion: 'podpattern.dev/v1alpha1',
  kind: 'PatternTemplate',
  metadata: { name: 'cluster-only', resourceVersion: '7' },
  spec: {
    pattern: 'sidecar',
    description: 'A template only the cluster has.',
    containers: [{ name: 'cluster-only', image: 'example.org/c:1' }],
  },
};

/** Resolves when `check` holds, polling on the event loop; fails loudly after `ms`. */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('ready only once the informers have listed and the catalog holds the cluster templates, also after a 410 relist', async (t) => {
  const heldLists: Array<() => void> = [];
  const templateWatches: ServerResponse[] = [];
  let templateLists = 0;
  let namespaceWatches = 0;
  const server = await startFakeApiServer({
    respond: ({ method, path, query }, response) => {
      const watching = query.get('watch') === 'true';
      if (method === 'PATCH') return [200, {}];
      if (path === '/apis/podpattern.dev/v1alpha1/patterntemplates') {
        response.setHeader('content-type', 'application/json');
        if (watching) templateWatches.push(response.writeHead(200));
        else {
          templateLists += 1;
          heldLists.push(() =>
            response.end(
              JSON.stringify({
                kind: 'PatternTemplateList',
                apiVersion: 'podpattern.dev/v1alpha1',
                metadata: { resourceVersion: '7' },
                items: [template],
              }),
            ),
          );
        }
        return 'held';
      }
      if (path === '/api/v1/namespaces') {
        if (!watching) return [200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '3' }, items: [] }];
        namespaceWatches += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        return 'held';
      }
      return undefined;
    },
  });
  t.teardown(() => server.close());
  const kubeconfig = server.kubeconfig;

  const swaps: Catalog[] = [];
  // A debounce far longer than the test: any swap seen here came from the list, not the timer.
  const live = new LiveCatalog({ base: [], debounceMs: 600_000, onSwap: (catalog) => swaps.push(catalog) });
  const logger = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
  const watch = watchCluster({ config: loadKubeConfig(kubeconfig)!, live, logger });
  t.teardown(() => watch.stop());
  void watch.start();

  // An informer emits 'connect' before its list request leaves; once the namespaces informer has
  // listed and opened its watch, every 'connect' and list handler that could flip readiness early ran.
  await until(() => heldLists.length === 1 && namespaceWatches === 1, 'the first templates list and the namespaces watch');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(watch.ready, false, 'not ready while the list is outstanding');
  t.equal(swaps.length, 0, 'and no catalog (an empty cluster layer) swapped in before the list');

  heldLists.shift()!();
  await until(() => watch.ready, 'readiness after the list');
  t.ok(live.current().get('cluster-only'), 'when ready, the cluster template is in the catalog in force');
  t.ok(
    swaps.every((c) => c.get('cluster-only') !== undefined),
    'every catalog swapped in holds it',
  );

  // The watch expires: the informer relists. Until the new list lands, nothing changes.
  await until(() => templateWatches.length === 1, 'the templates watch');
  const expired = templateWatches.shift()!;
  expired.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', code: 410, reason: 'Expired' } })}\n`);
  await until(() => templateLists === 2, 'the relist after 410');
  await new Promise((resolve) => setImmediate(resolve)); // the relist's 'connect' was emitted before its request left
  t.equal(watch.ready, true, 'still ready during the relist: the last listed catalog serves');
  t.ok(live.current().get('cluster-only'), 'and it still holds the cluster template');
  heldLists.shift()!();
  await until(() => templateWatches.length === 1, 'the watch after the relist');
  t.ok(
    swaps.length >= 2 && swaps.every((c) => c.get('cluster-only') !== undefined),
    'no catalog without the cluster template was ever swapped in',
  );
});
