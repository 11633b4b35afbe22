// ClusterWatch driven by fake informers (test/helpers/fake-informer.ts): readiness, the last good
// version of a template, namespace defaults, restarts after errors, and the server version.
// test/catalog/cluster-ready.test.ts covers the same readiness rule with client-node's real
// informers against a fake API server.
import t from 'tap';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { V1Namespace } from '#kube';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { detectServerVersion, parseServerVersion } from '../../src/catalog/kube.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import type { Condition, TemplateObject } from '../../src/catalog/template-watch.js';
import type { Catalog } from '../../src/model/template.js';
import { FakeInformer } from '../helpers/fake-informer.js';

function capturedLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

function template(name: string, image = 'example.org/c:1', extra: Partial<TemplateObject> = {}): TemplateObject {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name, generation: 1 },
    spec: { pattern: 'sidecar', description: 'A template of the cluster.', containers: [{ name, image }] },
    ...extra,
  };
}

/** Resolves when `check` holds, yielding to the event loop; fails loudly after `ms`. */
async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function setup(options: { maxBackoffMs?: number } = {}) {
  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  const swaps: Catalog[] = [];
  // A debounce far longer than any test: a swap seen here came from a list, or from flush().
  const live = new LiveCatalog({ base: [], debounceMs: 600_000, onSwap: (catalog) => swaps.push(catalog) });
  const written: Array<{ name: string; condition: Condition }> = [];
  const invalid: string[] = [];
  const { logger, lines } = capturedLogger();
  const watch = new ClusterWatch({
    templates,
    namespaces,
    live,
    logger,
    writeCondition: async (name, condition) => void written.push({ name, condition }),
    onInvalidTemplate: (name) => invalid.push(name),
    now: () => new Date('2026-01-02T03:04:05.678Z'),
    maxBackoffMs: options.maxBackoffMs,
  });
  return { templates, namespaces, live, swaps, written, invalid, lines, watch };
}

t.test('ready only once both informers have listed, with the listed templates swapped in', async (t) => {
  const { templates, namespaces, live, swaps, watch } = setup();
  t.teardown(() => watch.stop());
  await watch.start();
  t.equal(watch.ready, false, 'started (watch open) but nothing listed: not ready');
  templates.connect();
  namespaces.connect();
  t.equal(watch.ready, false, "'connect' alone is not readiness (client-node emits it before it lists)");
  t.equal(swaps.length, 0, 'no empty cluster layer swapped in');

  templates.list([template('one'), template('two')]);
  t.equal(watch.ready, false, 'templates listed, namespaces not: not ready');
  t.same(
    live
      .current()
      .list()
      .map((x) => x.name),
    ['one', 'two'],
    'the list is swapped in at once, not after the debounce',
  );
  namespaces.list([]);
  t.equal(watch.ready, true, 'both listed: ready');
  t.ok(swaps.length >= 1 && swaps.every((c) => c.get('one') !== undefined), 'every catalog swapped in holds the listed templates');
});

t.test('a bad update keeps the last good version in force and says why on the object', async (t) => {
  const { templates, namespaces, live, written, invalid, lines, watch } = setup();
  t.teardown(() => watch.stop());
  await watch.start();
  templates.list([template('web', 'example.org/web:1')]);
  namespaces.list([]);
  const good = live.current().get('web');
  t.match(good?.spec.containers[0], { image: 'example.org/web:1' });
  await until(() => written.length === 1, 'the Ready=True condition');
  t.same(written[0], {
    name: 'web',
    condition: {
      type: 'Ready',
      status: 'True',
      reason: 'Valid',
      message: 'the template is valid and in force',
      lastTransitionTime: '2026-01-02T03:04:05Z',
      observedGeneration: 1,
    },
  });

  // The same object again, now showing the condition written: no second write.
  templates.update(template('web', 'example.org/web:1', { status: { conditions: [written[0]!.condition] } }));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(written.length, 1, 'a condition already shown is not written again');

  const broken = template('web', 'example.org/web:2');
  (broken.spec as { pattern: string }).pattern = 'sidekick';
  templates.update(broken);
  live.flush(); // what the debounce timer does
  t.equal(live.current().get('web')?.hash, good?.hash, 'the last good version stays in force');
  t.match(
    live.current().failure('web'),
    { source: 'cluster', problems: [/spec.pattern: must be one of sidecar, ambassador, adapter/] },
    'and the failure is visible',
  );
  await until(() => written.length === 2, 'the Ready=False condition');
  t.match(written[1], { name: 'web', condition: { status: 'False', reason: 'InvalidTemplate', message: /spec.pattern: must be one of/ } });
  t.same(invalid, ['web'], 'counted as an invalid template');
  t.ok(
    lines.some((l) => l.msg === 'PatternTemplate is invalid; its last good version stays in force' && l.template === 'web'),
    'and logged',
  );

  templates.delete(broken);
  live.flush();
  t.equal(live.current().get('web'), undefined, 'a delete takes the last good version with it');
  t.equal(live.current().failure('web'), undefined, 'and its failure');
});

t.test('a failed status write is logged, not thrown', async (t) => {
  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  const live = new LiveCatalog({ base: [], debounceMs: 600_000 });
  const { logger, lines } = capturedLogger();
  const watch = new ClusterWatch({
    templates,
    namespaces,
    live,
    logger,
    writeCondition: async () => Promise.reject(new Error('forbidden')),
  });
  t.teardown(() => watch.stop());
  templates.list([template('web')]);
  await until(() => lines.some((l) => l.msg === 'could not write the Ready condition'), 'the warning');
  t.match(
    lines.find((l) => l.msg === 'could not write the Ready condition'),
    { template: 'web', err: 'forbidden' },
  );
});

t.test('namespace defaults: only podpattern keys, the same object until the namespace changes', async (t) => {
  const { templates, namespaces, watch } = setup();
  t.teardown(() => watch.stop());
  templates.list([]);
  const shop = (annotations: Record<string, string>): V1Namespace => ({ metadata: { name: 'shop', annotations } });
  namespaces.list([
    shop({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/port': '8443', 'example.com/owner': 'team-a' }),
  ]);
  const first = watch.namespaceAnnotations('shop');
  t.same(first, { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/port': '8443' }, 'other keys are left out');
  t.equal(watch.namespaceAnnotations('shop'), first, 'the same object while the namespace is unchanged');
  t.ok(Object.isFrozen(first), 'and frozen');
  t.same(watch.namespaceAnnotations('elsewhere'), {}, 'an unknown namespace has none');

  namespaces.update(shop({ 'podpattern.dev/adapter': 'redis-exporter' }));
  const second = watch.namespaceAnnotations('shop');
  t.not(second, first, 'a changed namespace gives a new object');
  t.same(second, { 'podpattern.dev/adapter': 'redis-exporter' });
  namespaces.delete(shop({}));
  t.same(watch.namespaceAnnotations('shop'), {}, 'a deleted namespace has none');
});

t.test('an informer error: not ready, restarted with backoff, ready again once watching', async (t) => {
  const { templates, namespaces, watch, lines } = setup({ maxBackoffMs: 1 });
  t.teardown(() => watch.stop());
  await watch.start();
  templates.list([template('web')]);
  namespaces.list([]);
  t.equal(watch.ready, true);
  const starts = templates.starts;
  templates.error(new Error('watch failed: 500'));
  t.equal(watch.ready, false, 'not ready after an error');
  t.match(
    lines.find((l) => l.msg === 'informer stopped; restarting'),
    { informer: 'templates', err: 'watch failed: 500', retryInMs: 1 },
  );
  await until(() => templates.starts > starts && watch.ready, 'the restart');
  t.pass('restarted, and ready again without a relist (the watch resumes)');

  // A first list that fails: start() rejects, readiness stays false until a list lands.
  const fresh = setup({ maxBackoffMs: 1 });
  t.teardown(() => fresh.watch.stop());
  fresh.templates.failNextStart = new Error('connection refused');
  await fresh.watch.start();
  t.match(
    fresh.lines.find((l) => l.msg === 'informer could not list'),
    { informer: 'templates', err: 'connection refused' },
  );
  fresh.namespaces.list([]);
  t.equal(fresh.watch.ready, false, 'no templates listed: not ready');
  fresh.templates.list([]);
  t.equal(fresh.watch.ready, true, 'ready once the templates are listed');
});

t.test('after stop, a late list does not make it ready or swap a catalog', async (t) => {
  const { templates, namespaces, swaps, watch } = setup();
  await watch.start();
  await watch.stop();
  t.equal(templates.stops, 1);
  t.equal(namespaces.stops, 1);
  // An empty list: a template would start the live catalog's (real) debounce timer.
  templates.list([]);
  namespaces.list([]);
  t.equal(watch.ready, false);
  t.equal(swaps.length, 0, 'no rebuild after stop');
});

t.test('the server version: minors such as "29+" read as numbers; retried with growing waits until it answers', async (t) => {
  t.same(parseServerVersion({ major: '1', minor: '29+' }), { major: 1, minor: 29 });
  t.same(parseServerVersion({ major: '1', minor: '33' }), { major: 1, minor: 33 });
  const { logger, lines } = capturedLogger();
  const waits: number[] = [];
  let calls = 0;
  const version = await detectServerVersion(
    async () => {
      calls += 1;
      if (calls < 4) throw new Error('connect ECONNREFUSED');
      return parseServerVersion({ major: '1', minor: '30' });
    },
    logger,
    async (ms) => void waits.push(ms),
  );
  t.same(version, { major: 1, minor: 30 });
  t.same(waits, [1000, 2000, 4000], 'waits double between attempts');
  t.equal(lines.filter((l) => l.msg === 'cannot read the API server version; sidecars stay classic under auto until it answers').length, 3);
  t.match(lines.at(-1), { msg: 'API server version', serverVersion: '1.30' });
});
