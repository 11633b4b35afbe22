// `podpattern status`'s lines for templates in canary, and its judgement of outdated pods by what
// each namespace gets: a pod outside the canary that runs the promoted revision is current there.
import t from 'tap';
import type { V1ControllerRevision, V1Pod } from '#kube';
import { buildCatalog } from '../../src/catalog/index.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { ServedRevisions } from '../../src/impact/served-revisions.js';
import { stageCatalog } from '../../src/impact/staged.js';
import { formatCanary } from '../../src/cli/status/canary.js';
import { takeInventory } from '../../src/cli/status/inventory.js';
import { canaryObject, clusterTemplate } from '../impact/fixtures.js';

const old = clusterTemplate(canaryObject('registry.example/proxy:1'));
const current = clusterTemplate(canaryObject('registry.example/proxy:2'));
const catalog = buildCatalog([{ templates: [current], failures: [] }]);
const namespaces = new Map<string, Record<string, string>>([
  ['canary-a', { stage: 'canary' }],
  ['canary-b', { stage: 'canary' }],
  ['shop', {}],
]);

function served(promotedSpec?: (spec: any) => void): ServedRevisions {
  const index = new ServedRevisions();
  const first = structuredClone(revisionObject(old, { uid: 'u' }, 'podpattern', 1, true)) as any;
  promotedSpec?.(first.data.spec);
  index.put(first as V1ControllerRevision);
  index.put(revisionObject(current, { uid: 'u' }, 'podpattern', 2, false));
  index.listed = true;
  return index;
}

const pod = (namespace: string, hash: string): V1Pod => ({
  metadata: {
    name: `web-${namespace}`,
    namespace,
    annotations: { 'podpattern.dev/status': JSON.stringify({ templates: [{ name: 'edge-proxy', hash }] }) },
  },
  status: { phase: 'Running' },
});

t.test('which namespaces get the current spec, and the promoted revision the others get', async (t) => {
  t.equal(
    formatCanary(catalog, served(), namespaces),
    `canary: edge-proxy ${current.hash} is served in canary-a, canary-b; every other namespace gets the promoted revision 1 (${old.hash}); podpattern rollout promote edge-proxy serves ${current.hash} everywhere\n`,
  );
  t.match(
    formatCanary(
      catalog,
      served((spec) => (spec.description = 'tampered')),
      namespaces,
    ),
    /no other namespace gets it, and its promoted revision cannot be served \(ControllerRevision edge-proxy-[0-9a-f]{16} holds a spec whose content hash is/,
  );
  t.equal(
    formatCanary(catalog, served(), new Map([['shop', {}]])),
    `canary: edge-proxy ${current.hash} is served in no namespace (its spec.rollout.canary.namespaceSelector selects none); every other namespace gets the promoted revision 1 (${old.hash}); podpattern rollout promote edge-proxy serves ${current.hash} everywhere\n`,
  );
});

t.test('a pod is outdated against what its own namespace gets', async (t) => {
  const revisions = served();
  const inventory = takeInventory(
    [pod('canary-a', old.hash), pod('shop', old.hash), pod('canary-b', current.hash)],
    (ns) => stageCatalog(catalog, revisions, ns, namespaces.get(ns)).catalog,
    () => ({ kind: 'Pod', name: 'web', roll: 'recreate it' }),
  );
  t.same(
    inventory.outdated.map((o) => `${o.namespace} ${o.changes.map((c) => `${c.running}->${c.current}`).join()}`),
    [`canary-a ${old.hash}->${current.hash}`],
    'only the canary pod on the promoted revision is outdated',
  );
  t.same(
    [...inventory.byTemplate.values()].map((r) => [r.hash, r.current, r.pods.length]),
    [
      [old.hash, true, 2],
      [current.hash, true, 1],
    ],
    'both hashes are current somewhere: the promoted one outside the canary, the new one in it',
  );
});
