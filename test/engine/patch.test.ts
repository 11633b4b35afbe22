// The engine builds its patch by diffing the pod it was given against an editable copy that
// shares everything the composition did not add to (src/engine/patch.ts). Oracle: on many
// generated pods, fast-json-patch's own applyPatch of that patch to a pristine copy of the input
// gives exactly the injected pod, and the input is left as it was.
import t from 'tap';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { diffPatch, editableContainer, editableCopy } from '../../src/engine/patch.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);

// Keys and names with the characters JSON pointers escape, and ones that need no escaping.
const key = fc.oneof(
  fc.constantFrom('a/b', 'x~y', '~1', '/', '~', 'example.org/team', 'plain'),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const name = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,10}$/)
  .filter(
    (n) => !n.startsWith('https-proxy') && !n.startsWith('redis-exporter') && !n.startsWith('git-sync') && !n.startsWith('podpattern'),
  );
const env = fc.array(fc.record({ name: fc.stringMatching(/^[A-Z][A-Z0-9_]{0,8}$/), value: fc.string({ maxLength: 8 }) }), { maxLength: 3 });
// Mounts name the volume 'data', which the pod then has.
const mounts = fc.uniqueArray(fc.record({ name: fc.constant('data'), mountPath: fc.stringMatching(/^\/[a-z]{1,6}$/) }), {
  maxLength: 2,
  selector: (m) => m.mountPath,
});
const container = fc.record(
  { name, image: fc.constant('example.org/app:1'), env, volumeMounts: mounts },
  { requiredKeys: ['name', 'image'] },
);
const requests = fc.subarray(
  [
    ['podpattern.dev/sidecar', 'https-proxy'],
    ['podpattern.dev/adapter', 'redis-exporter'],
    ['podpattern.dev/sidecar', 'git-sync'],
  ] as const,
  { minLength: 1 },
);

const pod = fc
  .record({
    annotations: fc.option(fc.dictionary(key, fc.string({ maxLength: 10 }), { maxKeys: 4 }), { nil: undefined }),
    labels: fc.option(fc.dictionary(key, fc.string({ maxLength: 10 }), { maxKeys: 3 }), { nil: undefined }),
    requests,
    containers: fc.uniqueArray(container, { minLength: 1, maxLength: 3, selector: (c) => c.name }),
    initContainers: fc.option(fc.uniqueArray(container, { maxLength: 2, selector: (c) => c.name }), { nil: undefined }),
    volumes: fc.option(fc.uniqueArray(fc.record({ name, emptyDir: fc.constant({}) }), { maxLength: 2, selector: (v) => v.name }), {
      nil: undefined,
    }),
  })
  .map(({ annotations, labels, requests, containers, initContainers, volumes }): PodLike => {
    const asked: Record<string, string> = {};
    for (const [k, v] of requests) asked[k] = asked[k] === undefined ? v : `${asked[k]},${v}`;
    if (asked['podpattern.dev/sidecar']?.includes('https-proxy')) asked['https-proxy.podpattern.dev/tls-secret'] = 'web-tls';
    if (asked['podpattern.dev/sidecar']?.includes('git-sync')) asked['git-sync.podpattern.dev/repo'] = 'https://example.org/repo.git';
    const initNames = new Set(containers.map((c) => c.name));
    const mounted = [...containers, ...(initContainers ?? [])].some((c) => (c.volumeMounts ?? []).length > 0);
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-', annotations: { ...annotations, ...asked }, ...(labels === undefined ? {} : { labels }) },
      spec: {
        containers,
        ...(initContainers === undefined ? {} : { initContainers: initContainers.filter((c) => !initNames.has(c.name)) }),
        ...(volumes === undefined && !mounted
          ? {}
          : { volumes: [...(mounted ? [{ name: 'data', emptyDir: {} }] : []), ...(volumes ?? []).filter((v) => v.name !== 'data')] }),
      },
    };
  });

t.test('the patch applied by fast-json-patch to the input gives the injected pod; the input is untouched', async (t) => {
  let injected = 0;
  const reasons = new Map<string, number>();
  fc.assert(
    fc.property(pod, fc.constantFrom<'never' | 'always'>('never', 'always'), (input, nativeSidecars) => {
      const before = structuredClone(input);
      const result = inject(input, catalog, { nativeSidecars, namespace: 'ns' });
      t.same(input, before, 'the input is not changed');
      if (result.outcome !== 'injected') {
        reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
        return true;
      }
      injected += 1;
      const applied = jsonpatch.applyPatch(structuredClone(before), structuredClone(result.patch), true, false).newDocument;
      t.same(applied, result.pod);
      // And a second injection of the injected pod changes nothing.
      t.equal(inject(applied, catalog, { nativeSidecars, namespace: 'ns' }).outcome, 'skipped');
      return true;
    }),
    { numRuns: 300 },
  );
  t.ok(injected > 150, `most generated pods were injected (${injected}; others: ${JSON.stringify([...reasons])})`);
});

t.test('diffPatch: additions, replacements and removals on an editable copy, keys escaped', async (t) => {
  const input = {
    metadata: { annotations: { 'a/b': '1', 'x~y': '2' } },
    spec: { containers: [{ name: 'app', env: [{ name: 'A', value: '1' }] }], volumes: [{ name: 'v' }] },
  } as unknown as PodLike;
  const copy = editableCopy(input) as unknown as {
    metadata: { annotations: Record<string, string | undefined> };
    spec: { containers: { env: unknown[] }[]; volumes: unknown[]; initContainers?: unknown[] };
  };
  copy.metadata.annotations['a/b'] = 'changed';
  delete copy.metadata.annotations['x~y'];
  copy.metadata.annotations['new~/key'] = '3';
  copy.spec.containers[0] = editableContainer(copy.spec.containers[0]!);
  copy.spec.containers[0].env.push({ name: 'B', value: '2' });
  copy.spec.volumes = [];
  copy.spec.initContainers = [{ name: 'init' }];
  const patch = diffPatch(input, copy);
  t.same(patch.map((op) => `${op.op} ${op.path}`).sort(), [
    'add /metadata/annotations/new~0~1key',
    'add /spec/containers/0/env/1',
    'add /spec/initContainers',
    'remove /metadata/annotations/x~0y',
    'replace /metadata/annotations/a~1b',
    'replace /spec/volumes',
  ]);
  t.same(jsonpatch.applyPatch(structuredClone(input), patch, true, false).newDocument, copy);
  t.equal((input.metadata!.annotations as Record<string, string>)['a/b'], '1', 'the input is not changed by editing the copy');
  t.equal(input.spec!.containers[0]!.env!.length, 1);
});

t.test('nothing an injection places in a pod is shared with another pod or with the catalog', async (t) => {
  const asking = (name: string): PodLike => ({
    metadata: {
      generateName: `${name}-`,
      annotations: {
        'podpattern.dev/sidecar': 'https-proxy,git-sync',
        'https-proxy.podpattern.dev/tls-secret': 'web-tls',
        'git-sync.podpattern.dev/repo': 'https://example.org/repo.git',
        'podpattern.dev/adapter': 'redis-exporter',
      },
    },
    spec: {
      containers: [
        { name: 'app', image: 'example.org/app:1', env: [{ name: 'A', value: '1' }] },
        { name: 'second', image: 'example.org/app:1' },
      ],
    },
  });
  const first = inject(asking('a'), catalog, { nativeSidecars: 'never', namespace: 'ns' });
  const expected = inject(asking('b'), catalog, { nativeSidecars: 'never', namespace: 'ns' });
  t.equal(first.outcome, 'injected');
  t.equal(expected.outcome, 'injected');
  // Every object and list of the first answer's patch, edited as a later step might.
  let edited = 0;
  const vandalise = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) vandalise(item);
      value.push('vandalised');
      edited += 1;
    } else if (value !== null && typeof value === 'object') {
      for (const item of Object.values(value)) vandalise(item);
      (value as Record<string, unknown>)['vandalised'] = true;
      edited += 1;
    }
  };
  if (first.outcome === 'injected') vandalise(first.patch.map((op) => ('value' in op ? op.value : undefined)));
  t.ok(edited > 50, `the first answer's objects were edited (${edited})`);
  const again = inject(asking('b'), catalog, { nativeSidecars: 'never', namespace: 'ns' });
  t.equal(
    again.outcome === 'injected' && again.patchJson,
    expected.outcome === 'injected' && expected.patchJson,
    'a later injection, from the same catalog, is unchanged',
  );
  t.notOk(JSON.stringify(again).includes('vandalised'));
});

t.test("an own __proto__ key (JSON.parse makes one) is copied as a key, never as the copy's prototype", async (t) => {
  const input = JSON.parse(`{
    "apiVersion": "v1", "kind": "Pod", "__proto__": { "polluted": true },
    "metadata": { "name": "p", "__proto__": { "polluted": true },
      "annotations": { "podpattern.dev/sidecar": "https-proxy", "https-proxy.podpattern.dev/tls-secret": "web-tls", "__proto__": "x" } },
    "spec": { "__proto__": { "polluted": true }, "containers": [{ "name": "app", "image": "example.org/app:1", "__proto__": { "polluted": true } }] }
  }`) as PodLike;
  const pristine = structuredClone(input);
  const result = inject(input, catalog, { nativeSidecars: 'never', namespace: 'shop' });
  t.equal(result.outcome, 'injected');
  if (result.outcome !== 'injected') return;
  t.notOk(
    result.patch.some((op) => op.path.includes('__proto__')),
    'the patch does not touch the __proto__ keys',
  );
  const copy = editableCopy(input);
  for (const object of [copy, copy.metadata, copy.metadata?.annotations, copy.spec, editableContainer(input.spec!.containers[0]!)]) {
    t.equal(Object.getPrototypeOf(object), Object.prototype, 'the copy keeps Object.prototype');
    t.ok(Object.hasOwn(object!, '__proto__'), 'and the key as its own');
  }
  t.strictSame(jsonpatch.applyPatch(structuredClone(pristine), result.patch, true, false).newDocument, result.pod);
  t.strictSame(input, pristine, 'the input is untouched');
});
