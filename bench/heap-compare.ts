// Compares two V8 heap snapshots (`v8.writeHeapSnapshot()`, or `node --heapsnapshot-signal`):
// `node dist/bench/heap-compare.js before.heapsnapshot after.heapsnapshot [rows]`. Prints, per
// constructor (objects by their constructor's name, closures by their function's, the rest by
// V8's kind of node), how the count, the self size and the retained size moved, largest growth
// first, and for the classes that grew most the chain of dominators that holds one of their
// newest objects: what keeps them alive. Retained sizes are the dominator tree's (the Cooper,
// Harvey and Kennedy algorithm over the graph from the snapshot's root, weak edges left out, as
// the DevTools' retained sizes are); a class's retained size counts each of its objects that no
// other object of the same class dominates, so nested ones are not counted twice.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface RawSnapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Heap {
  count: number;
  /** Per node: its class (see classOf), its self size, its V8 object id. */
  className: string[];
  selfSize: Float64Array;
  id: Uint32Array;
  /** Per node: its immediate dominator's node index (the root's is itself), its retained size. */
  dominator: Int32Array;
  retained: Float64Array;
  /** How the dominator reaches the node: the name of one edge from it, when there is a direct one. */
  edgeTo(from: number, to: number): string | undefined;
}

export interface ClassChange {
  name: string;
  count: [number, number];
  self: [number, number];
  retained: [number, number];
}

/** A node's class as the DevTools' summary groups them. */
function classOf(type: string, name: string): string {
  switch (type) {
    case 'object':
    case 'native':
      return name;
    case 'closure':
      return `(closure) ${name === '' ? '(anonymous)' : name}`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'hidden':
    case 'array':
    case 'code':
    case 'object shape':
      return `(${type}) ${name.replace(/\d+/g, 'N').slice(0, 60)}`;
    default:
      return `(${type})`;
  }
}

export function parseHeap(text: string): Heap {
  const raw = JSON.parse(text) as RawSnapshot;
  const meta = raw.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const count = raw.nodes.length / nf;
  const className: string[] = new Array<string>(count);
  const selfSize = new Float64Array(count);
  const id = new Uint32Array(count);
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, edge = 0; i < count; i++) {
    const at = i * nf;
    className[i] = classOf(nodeTypes[raw.nodes[at + nType]!] ?? 'unknown', raw.strings[raw.nodes[at + nName]!] ?? '');
    selfSize[i] = raw.nodes[at + nSize]!;
    id[i] = raw.nodes[at + nId]!;
    firstEdge[i] = edge;
    edge += raw.nodes[at + nEdges]!;
    firstEdge[i + 1] = edge;
  }
  const targets = (node: number, visit: (to: number, edge: number) => void): void => {
    for (let e = firstEdge[node]!; e < firstEdge[node + 1]!; e++) {
      if (raw.edges[e * ef + eType] !== weak) visit(raw.edges[e * ef + eTo]! / nf, e);
    }
  };
  const { dominator, order } = dominators(count, targets);
  const retained = Float64Array.from(selfSize);
  for (let k = order.length - 1; k > 0; k--) {
    const node = order[k]!;
    const holder = dominator[node]!;
    retained[holder] = retained[holder]! + retained[node]!;
  }
  for (let i = 0; i < count; i++) if (dominator[i] === -1) retained[i] = 0; // unreachable from the root
  const edgeTo = (from: number, to: number): string | undefined => {
    for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e++) {
      if (raw.edges[e * ef + eTo]! / nf !== to) continue;
      const type = edgeTypes[raw.edges[e * ef + eType]!];
      const name = raw.edges[e * ef + eName]!;
      return type === 'element' || type === 'hidden' ? `[${name}]` : `.${raw.strings[name] ?? name}`;
    }
    return undefined;
  };
  return { count, className, selfSize, id, dominator, retained, edgeTo };
}

/**
 * Immediate dominators from node 0 (Cooper, Harvey and Kennedy, "A Simple, Fast Dominance
 * Algorithm", 2001): iterate over the reverse postorder until nothing changes. `order` is the
 * reverse postorder, so a dominator comes before every node it dominates.
 */
function dominators(
  count: number,
  targets: (node: number, visit: (to: number, edge: number) => void) => void,
): { dominator: Int32Array; order: Int32Array } {
  const postIndex = new Int32Array(count).fill(-1);
  const post: number[] = [];
  const predecessors: number[][] = Array.from({ length: count }, () => []);
  const seen = new Uint8Array(count);
  const stack: [number, number[]][] = [];
  const children = (node: number): number[] => {
    const list: number[] = [];
    targets(node, (to) => list.push(to));
    return list;
  };
  seen[0] = 1;
  stack.push([0, children(0)]);
  while (stack.length > 0) {
    const top = stack.at(-1)!;
    const next = top[1].pop();
    if (next === undefined) {
      stack.pop();
      postIndex[top[0]] = post.length;
      post.push(top[0]);
      continue;
    }
    predecessors[next]!.push(top[0]);
    if (seen[next] === 0) {
      seen[next] = 1;
      stack.push([next, children(next)]);
    }
  }
  const order = Int32Array.from(post.reverse());
  const dominator = new Int32Array(count).fill(-1);
  dominator[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (postIndex[a]! < postIndex[b]!) a = dominator[a]!;
      while (postIndex[b]! < postIndex[a]!) b = dominator[b]!;
    }
    return a;
  };
  for (let changed = true; changed;) {
    changed = false;
    for (let k = 1; k < order.length; k++) {
      const node = order[k]!;
      let idom = -1;
      for (const p of predecessors[node]!) {
        if (dominator[p] === -1) continue;
        idom = idom === -1 ? p : intersect(p, idom);
      }
      if (idom !== -1 && dominator[node] !== idom) {
        dominator[node] = idom;
        changed = true;
      }
    }
  }
  return { dominator, order };
}

interface Totals {
  count: number;
  self: number;
  retained: number;
}

function totalsByClass(heap: Heap): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  for (let i = 0; i < heap.count; i++) {
    const name = heap.className[i]!;
    if (heap.dominator[i] === -1 || name === '(synthetic)') continue; // unreachable, or a root
    const entry = totals.get(name) ?? { count: 0, self: 0, retained: 0 };
    entry.count++;
    entry.self += heap.selfSize[i]!;
    let outer = heap.dominator[i]!;
    while (outer !== 0 && heap.className[outer] !== name) outer = heap.dominator[outer]!;
    if (outer === 0) entry.retained += heap.retained[i]!;
    totals.set(name, entry);
  }
  return totals;
}

/** Every class whose count or sizes differ, by growth of retained size (then self size), largest first. */
export function compareHeaps(before: Heap, after: Heap): ClassChange[] {
  const a = totalsByClass(before);
  const b = totalsByClass(after);
  const zero: Totals = { count: 0, self: 0, retained: 0 };
  const changes: ClassChange[] = [];
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(name) ?? zero;
    const y = b.get(name) ?? zero;
    if (x.count === y.count && x.self === y.self && x.retained === y.retained) continue;
    changes.push({ name, count: [x.count, y.count], self: [x.self, y.self], retained: [x.retained, y.retained] });
  }
  const growth = (c: ClassChange): number => Math.max(c.retained[1] - c.retained[0], c.self[1] - c.self[0]);
  return changes.sort((p, q) => growth(q) - growth(p));
}

/** The dominator chain from the root to the newest object of `name` (the highest V8 id): what holds it. */
export function holderChain(heap: Heap, name: string): string[] {
  let newest = -1;
  for (let i = 0; i < heap.count; i++) {
    if (heap.className[i] === name && heap.dominator[i] !== -1 && (newest === -1 || heap.id[i]! > heap.id[newest]!)) newest = i;
  }
  if (newest === -1) return [];
  const chain: string[] = [];
  for (let node = newest; node !== 0; node = heap.dominator[node]!) {
    const via = heap.edgeTo(heap.dominator[node]!, node) ?? '(several paths)';
    chain.unshift(`${via} ${heap.className[node]} (retains ${heap.retained[node]} B)`);
  }
  return chain;
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
const signed = (n: number, format: (n: number) => string): string => `${n >= 0 ? '+' : '-'}${format(Math.abs(n))}`;

export function report(before: Heap, after: Heap, rows: number): string {
  const changes = compareHeaps(before, after).slice(0, rows);
  const lines = changes.map(
    (c) =>
      `${signed(c.retained[1] - c.retained[0], kib).padStart(12)} retained ${signed(c.self[1] - c.self[0], kib).padStart(12)} self ${signed(c.count[1] - c.count[0], String).padStart(8)} objects (${c.count[0]} -> ${c.count[1]})  ${c.name}`,
  );
  const holders = changes.slice(0, 3).map(
    (c) =>
      `what holds the newest ${c.name}:\n${holderChain(after, c.name)
        .map((step) => `  ${step}`)
        .join('\n')}`,
  );
  return [`classes whose count or size moved, largest growth first:`, ...lines, '', ...holders].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [beforePath, afterPath, rows] = process.argv.slice(2);
  if (beforePath === undefined || afterPath === undefined) {
    process.stderr.write('usage: node dist/bench/heap-compare.js before.heapsnapshot after.heapsnapshot [rows]\n');
    process.exitCode = 2;
  } else {
    process.stdout.write(
      `${report(parseHeap(readFileSync(beforePath, 'utf8')), parseHeap(readFileSync(afterPath, 'utf8')), Number(rows ?? 25))}\n`,
    );
  }
}
