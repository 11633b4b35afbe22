// The live catalog's rebuild logic, driven by a fake source and fake timers.
import t from 'tap';
import { LiveCatalog, type Timers, type TemplateVerdict } from '../../src/catalog/live.js';
import { loadBuiltinTemplates } from '../../src/catalog/index.js';
import type { Catalog } from '../../src/model/template.js';

class FakeTimers implements Timers {
  private next = 1;
  readonly pending = new Map<number, () => void>();
  set(callback: () => void): unknown {
    const id = this.next++;
    this.pending.set(id, callback);
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  fire(): void {
    const callbacks = [...this.pending.values()];
    this.pending.clear();
    for (const callback of callbacks) callback();
  }
}

function object(name: string, spec: Record<string, unknown>, resourceVersion = '1'): unknown {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name, resourceVersion, uid: 'u' },
    spec,
    status: { conditions: [] },
  };
}

const goodSpec = (image: string) => ({ pattern: 'adapter', description: 'd', containers: [{ name: 'ops-adapter', image }] });
const brokenSpec = { pattern: 'adapter', description: 'd', containers: [], typo: true };

function setup() {
  const timers = new FakeTimers();
  const swaps: Catalog[] = [];
  const verdicts: TemplateVerdict[] = [];
  const live = new LiveCatalog({ base: [loadBuiltinTemplates()], timers, onSwap: (c) => swaps.push(c) });
  // What a source does with each object: upsert it and keep the verdict it returns.
  const upsert = (o: unknown): void => {
    const verdict = live.upsert(o);
    if (verdict !== undefined) verdicts.push(verdict);
  };
  return { timers, swaps, verdicts, live, upsert };
}

t.test('changes are debounced into one rebuild and swapped whole', async (t) => {
  const { timers, swaps, live } = setup();
  const before = live.current();
  live.upsert(object('ops-adapter', goodSpec('example.org/a:1')));
  live.upsert(object('ops-adapter', goodSpec('example.org/a:2'), '2'));
  live.upsert(object('other', goodSpec('example.org/b:1')));
  t.equal(live.current(), before, 'nothing changes before the debounce fires');
  t.equal(timers.pending.size, 1, 'one rebuild pending');
  timers.fire();
  t.equal(swaps.length, 1, 'one swap for three changes');
  t.equal(live.current().get('ops-adapter')?.spec.containers[0]?.image, 'example.org/a:2', 'the newest version is in force');
  t.equal(before.get('ops-adapter'), undefined, 'an old snapshot is never modified');
});

t.test('an invalid update keeps the last good version and reports every problem', async (t) => {
  const { timers, verdicts, live, upsert } = setup();
  upsert(object('ops-adapter', goodSpec('example.org/a:1')));
  timers.fire();
  upsert(object('ops-adapter', brokenSpec, '2'));
  timers.fire();
  const catalog = live.current();
  t.equal(catalog.get('ops-adapter')?.spec.containers[0]?.image, 'example.org/a:1', 'last good version stays');
  t.match(catalog.failure('ops-adapter'), { source: 'cluster', problems: [/unknown field 'typo'/, /declares no containers/] });
  t.same(
    verdicts.map((v) => v.valid),
    [true, false],
  );
  live.upsert(object('ops-adapter', goodSpec('example.org/a:3'), '3'));
  timers.fire();
  t.equal(live.current().failure('ops-adapter'), undefined, 'fixed: the failure is gone');
  t.equal(live.current().get('ops-adapter')?.spec.containers[0]?.image, 'example.org/a:3');
});

t.test('a template that was never valid is absent, with its failure', async (t) => {
  const { timers, live } = setup();
  live.upsert(object('never-good', brokenSpec));
  timers.fire();
  t.equal(live.current().get('never-good'), undefined);
  t.ok(live.current().failure('never-good'));
});

t.test('cluster objects override built-ins of the same name; deleting restores the built-in', async (t) => {
  const { timers, live } = setup();
  const builtin = live.current().get('redis-exporter');
  t.equal(builtin?.source, 'builtin');
  live.upsert(object('redis-exporter', goodSpec('example.org/own-exporter:1')));
  timers.fire();
  t.equal(live.current().get('redis-exporter')?.source, 'cluster', 'the cluster object wins');
  live.remove('redis-exporter');
  timers.fire();
  t.equal(live.current().get('redis-exporter')?.hash, builtin?.hash, 'the built-in is back');
});

t.test('a broken cluster object never blanks a built-in of the same name', async (t) => {
  const { timers, live } = setup();
  live.upsert(object('https-proxy', brokenSpec));
  timers.fire();
  t.equal(live.current().get('https-proxy')?.source, 'builtin');
  t.ok(live.current().failure('https-proxy'), 'and the failure is visible');
});

t.test('objects without a name are ignored', async (t) => {
  const { timers, swaps, live } = setup();
  t.equal(live.upsert({ metadata: {} }), undefined);
  t.equal(live.upsert(null), undefined);
  timers.fire();
  t.equal(swaps.length, 0, 'nothing to rebuild');
});

t.test('an update that changes nothing the catalog holds (a status write, a resync) swaps nothing', async (t) => {
  const { timers, swaps, verdicts, live, upsert } = setup();
  upsert(object('ops-adapter', goodSpec('example.org/a:1')));
  timers.fire();
  t.equal(swaps.length, 1);
  const snapshot = live.current();
  const withStatus = object('ops-adapter', goodSpec('example.org/a:1'), '2') as { status: unknown };
  withStatus.status = { conditions: [{ type: 'Ready', status: 'True' }] };
  upsert(withStatus);
  t.equal(timers.pending.size, 0, 'no rebuild scheduled');
  t.equal(live.current(), snapshot, 'the same snapshot stays, so remembered answers stay valid');
  t.match(verdicts.at(-1), { name: 'ops-adapter', valid: true }, 'the verdict is still returned');

  upsert(object('ops-adapter', brokenSpec, '3'));
  timers.fire();
  t.equal(swaps.length, 2, 'turning invalid is a change');
  upsert(object('ops-adapter', brokenSpec, '4'));
  t.equal(timers.pending.size, 0, 'the same problems again are not');
  upsert(object('ops-adapter', goodSpec('example.org/a:1'), '5'));
  t.equal(timers.pending.size, 1, 'valid again is a change');
  timers.fire();
  live.remove('never-seen');
  t.equal(timers.pending.size, 0, 'deleting a name never seen changes nothing');
});
