// What an injected pod gets to fit its cluster (src/engine/fit.ts): the autoscaler's volume list
// merged, and the operating system read from pods of any shape without a crash.
import t from 'tap';
import { applyPatch, inject, type PodLike } from '../../src/engine/index.js';
import { mergeVolumeList } from '../../src/engine/fit.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();
const options = { nativeSidecars: 'always' as const, namespace: 'ns' };

function pod(annotations: Record<string, string>, spec: Record<string, unknown> = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'app', image: 'x' }], ...spec },
  };
}

t.test("the autoscaler's list: the pod's text kept, names appended once, stale ones of an earlier injection taken out", async (t) => {
  t.equal(mergeVolumeList(undefined, ['a', 'b'], []), 'a,b', 'created');
  t.equal(mergeVolumeList(undefined, [], []), undefined, 'nothing to add, nothing made');
  t.equal(mergeVolumeList('  ', ['a'], []), 'a', 'a blank list is replaced');
  t.equal(mergeVolumeList('x, a', ['a', 'b'], []), 'x, a,b', 'a name the pod lists (spaced) is not repeated');
  t.equal(mergeVolumeList('x,a,b', ['a'], ['a', 'b']), 'x,a', "an earlier injection's volume not injected again leaves");
  t.equal(mergeVolumeList('b', [], ['b']), undefined, 'and a list left empty goes');
  t.equal(mergeVolumeList('x', [], ['b']), 'x', "the pod's own names stay");
});

t.test('the merged list is in the patch, and injecting again changes nothing', async (t) => {
  const input = pod(
    { 'podpattern.dev/sidecar': 'demo-sidecar', 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes': 'scratch' },
    { volumes: [{ name: 'scratch', emptyDir: {} }] },
  );
  const result = inject(input, catalog, options);
  if (result.outcome !== 'injected') throw new Error(result.outcome);
  const patched = applyPatch(input, result.patch);
  t.equal(patched.metadata?.annotations?.['cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes'], 'scratch,demo-shared');
  t.equal(patched.metadata?.annotations?.['kubectl.kubernetes.io/default-container'], 'app');
  t.equal(input.metadata?.annotations?.['kubectl.kubernetes.io/default-container'], undefined, 'the input is not edited');
  t.match(inject(patched, catalog, options), { outcome: 'skipped', reason: 'already-injected' });
});

t.test("the template's pull secret is added once by name, in a new list", async (t) => {
  const own = [{ name: 'mine' }];
  const input = pod({ 'podpattern.dev/adapter': 'demo-private' }, { imagePullSecrets: own });
  const result = inject(input, catalog, options);
  if (result.outcome !== 'injected') throw new Error(result.outcome);
  t.same(applyPatch(input, result.patch).spec?.imagePullSecrets, [{ name: 'mine' }, { name: 'demo-registry' }]);
  t.same(own, [{ name: 'mine' }], "the pod's list is not edited");
  const again = inject(
    pod({ 'podpattern.dev/adapter': 'demo-private' }, { imagePullSecrets: [{ name: 'demo-registry' }] }),
    catalog,
    options,
  );
  t.same(
    again.outcome === 'injected' ? again.pod.spec?.imagePullSecrets : undefined,
    [{ name: 'demo-registry' }],
    'present already: not repeated',
  );
});

t.test('malformed OS fields never crash the engine: a pod says nothing of its OS, or is denied with a bounded message', async (t) => {
  const shapes: unknown[] = [
    { os: 'windows' },
    { os: { name: 7 } },
    { nodeSelector: ['kubernetes.io/os'] },
    { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: 'x' } } } },
    { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [null, 3, 'x'] } } } },
    {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [null, { key: 'kubernetes.io/os', operator: 'In', values: 'windows' }] }],
          },
        },
      },
    },
    {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'kubernetes.io/os', operator: 'In', values: Array.from({ length: 10_000 }, (_, i) => `os-${i}`.repeat(20)) },
                ],
              },
            ],
          },
        },
      },
    },
    { nodeSelector: { 'kubernetes.io/os': `w${'\u202e'.repeat(5000)}` } },
  ];
  for (const spec of shapes) {
    const result = inject(pod({ 'podpattern.dev/sidecar': 'demo-sidecar' }, spec as Record<string, unknown>), catalog, options);
    t.ok(['injected', 'denied'].includes(result.outcome), `${JSON.stringify(spec).slice(0, 80)}: ${result.outcome}`);
    if (result.outcome === 'denied') t.ok(result.message.length < 2000, `bounded: ${result.message.slice(0, 200)}`);
  }
});
