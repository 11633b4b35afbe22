// The heap snapshot comparison the soak's leak hunts use: dominators and retained sizes on a graph
// small enough to check by hand, then two real snapshots of a process whose objects of one class
// grow, held by a Map.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { compareHeaps, holderChain, parseHeap, report } from '../../bench/heap-compare.js';

const NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];
const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/** A snapshot in V8's format: nodes [type, name, size] with edges [type, name, to] in node order. */
function snapshot(nodes: [string, string, number, [string, string, number][]][]): string {
  const strings: string[] = [];
  const string = (s: string): number => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const flatNodes = nodes.flatMap(([type, name, size, edges], i) => [
    NODE_TYPES.indexOf(type),
    string(name),
    i * 2 + 1,
    size,
    edges.length,
    0,
    0,
  ]);
  const flatEdges = nodes.flatMap(([, , , edges]) =>
    edges.flatMap(([type, name, to]) => [EDGE_TYPES.indexOf(type), string(name), to * NODE_FIELDS.length]),
  );
  const meta = {
    node_fields: NODE_FIELDS,
    node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
  };
  return JSON.stringify({
    snapshot: { meta, node_count: nodes.length, edge_count: flatEdges.length / 3 },
    nodes: flatNodes,
    edges: flatEdges,
    strings,
  });
}

t.test('dominators and retained sizes on a graph checked by hand', async (t) => {
  // root -> A, root -> B; A -> C, B -> C (C is held two ways: the root dominates it); C -> D;
  // A -weak-> E and nothing else reaches E (unreachable: weak edges do not hold).
  const heap = parseHeap(
    snapshot([
      [
        'synthetic',
        '',
        0,
        [
          ['property', 'a', 1],
          ['property', 'b', 2],
        ],
      ],
      [
        'object',
        'A',
        10,
        [
          ['property', 'c', 3],
          ['weak', 'e', 5],
        ],
      ],
      ['object', 'B', 20, [['property', 'c', 3]]],
      ['object', 'C', 30, [['property', 'd', 4]]],
      ['closure', 'tick', 40, []],
      ['object', 'E', 50, []],
    ]),
  );
  t.same([...heap.dominator], [0, 0, 0, 0, 3, -1], 'C is dominated by the root, D by C, E by nothing');
  t.same([...heap.retained], [100, 10, 20, 70, 40, 0], 'each retains itself and what it dominates');
  t.same(heap.className, ['(synthetic)', 'A', 'B', 'C', '(closure) tick', 'E']);
  t.same(
    holderChain(heap, '(closure) tick'),
    ['(several paths) C (retains 70 B)', '.d (closure) tick (retains 40 B)'],
    'the chain names the edges where there is one',
  );
});

t.test('two snapshots of a process whose objects of one class grow: that class first, and what holds it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'heap-compare-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = `
    const { writeHeapSnapshot } = require('node:v8');
    class Kept { constructor(i) { this.i = i; this.payload = new Array(16).fill(i); } }
    class Steady { constructor(i) { this.i = i; } }
    const steady = Array.from({ length: 50 }, (_, i) => new Steady(i));
    const held = new Map();
    globalThis.keep = { held, steady };
    for (let i = 0; i < 100; i++) held.set(i, new Kept(i));
    writeHeapSnapshot(process.argv[1] + '/before.heapsnapshot');
    for (let i = 100; i < 600; i++) held.set(i, new Kept(i));
    writeHeapSnapshot(process.argv[1] + '/after.heapsnapshot');
  `;
  const run = spawnSync(process.execPath, ['-e', script, dir], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const before = parseHeap(readFileSync(join(dir, 'before.heapsnapshot'), 'utf8'));
  const after = parseHeap(readFileSync(join(dir, 'after.heapsnapshot'), 'utf8'));
  const changes = compareHeaps(before, after);
  const kept = changes.find((c) => c.name === 'Kept');
  t.same(kept?.count, [100, 600], 'the growing class, counted in both');
  t.ok(
    kept !== undefined && kept.retained[1] - kept.retained[0] > kept.self[1] - kept.self[0],
    'its retained size grew by more than its own (the arrays it holds)',
  );
  t.notOk(
    changes.some((c) => c.name === 'Steady'),
    'a class that did not change is not listed',
  );
  const chain = holderChain(after, 'Kept');
  t.match(chain.at(-1), /^\S+ Kept \(retains \d+ B\)$/, 'the chain ends at the newest object');
  t.ok(
    chain.some((step) => / Map /.test(step)),
    `the Map that holds it is on the chain: ${chain.join(' ')}`,
  );
  t.match(report(before, after, 5), /\+500 objects \(100 -> 600\)\s+Kept/, 'the report says it');
});
