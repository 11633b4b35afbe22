// Staged templates at the engine's level: a cluster template with a canary whose spec changed
// after its first revision was promoted. Pods in a canary namespace get the current spec, pods
// elsewhere (and where the namespace's labels are not known) the promoted revision: the patch is
// applied to each pod and the container and recorded hash checked. A promoted revision that is
// missing, invalid, renamed or holds content other than its hash says is never served, and the
// current spec is never served in its place: the review answers as the failure mode says.
import t from 'tap';
import type { V1ControllerRevision } from '#kube';
import { buildCatalog } from '../../src/catalog/index.js';
import { applyPatch, inject } from '../../src/engine/index.js';
import type { PodLike } from '../../src/engine/types.js';
import { decide } from '../../src/admission/review.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { Catalog, Template } from '../../src/model/template.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { ServedRevisions } from '../../src/impact/served-revisions.js';
import { stageCatalog } from '../../src/impact/staged.js';
import { canaryObject, clusterTemplate, proxyObject } from './fixtures.js';

function revision(template: Template, number: number, promoted: boolean, edit?: (object: any) => void): V1ControllerRevision {
  const object = structuredClone(revisionObject(template, { uid: 'tpl-uid-1' }, 'podpattern', number, promoted)) as any;
  object.metadata.resourceVersion = String(number);
  edit?.(object);
  return object as V1ControllerRevision;
}

const old = clusterTemplate(canaryObject('registry.example/proxy:1'));
const current = clusterTemplate(canaryObject('registry.example/proxy:2'));
const catalog: Catalog = buildCatalog([{ templates: [current], failures: [] }]);

function revisions(...objects: V1ControllerRevision[]): ServedRevisions {
  const served = new ServedRevisions();
  for (const object of objects) served.put(object);
  served.listed = true;
  return served;
}

const pod = (namespace: string): PodLike => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace, annotations: { 'podpattern.dev/sidecar': 'edge-proxy' } },
  spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
});

/** The pod as stored: the engine's patch applied to it. */
function injected(staged: Catalog, namespace: string) {
  const input = pod(namespace);
  const result = inject(structuredClone(input), staged, { nativeSidecars: 'never', namespace });
  if (result.outcome !== 'injected') throw new Error(`not injected: ${JSON.stringify(result)}`);
  const stored = applyPatch<PodLike>(input, result.patch);
  const status = JSON.parse(stored.metadata!.annotations!['podpattern.dev/status']!) as {
    templates: Array<{ name: string; hash: string }>;
  };
  return { image: stored.spec!.containers.find((c) => c.name === 'edge-proxy')?.image, hash: status.templates[0]!.hash };
}

t.test('a canary namespace gets the current spec, every other namespace the promoted revision', async (t) => {
  const served = revisions(revision(old, 1, true), revision(current, 2, false));
  const canary = stageCatalog(catalog, served, 'canary-a', { stage: 'canary' });
  t.same(injected(canary.catalog, 'canary-a'), { image: 'registry.example/proxy:2', hash: current.hash });
  t.match(canary.choices, [
    {
      template: 'edge-proxy',
      serves: 'current',
      hash: current.hash,
      reason: 'canary-namespace',
      promoted: { revision: 1, hash: old.hash },
    },
  ]);

  const shop = stageCatalog(catalog, served, 'shop', { team: 'shop' });
  t.same(
    injected(shop.catalog, 'shop'),
    { image: 'registry.example/proxy:1', hash: old.hash },
    "the promoted revision's container and hash",
  );
  t.match(shop.choices, [{ serves: 'promoted', hash: old.hash, reason: 'outside-canary' }]);

  const unknown = stageCatalog(catalog, served, 'new-ns', undefined);
  t.same(
    injected(unknown.catalog, 'new-ns'),
    { image: 'registry.example/proxy:1', hash: old.hash },
    'unknown labels lean to the promoted revision',
  );
  t.match(unknown.choices, [{ serves: 'promoted', reason: 'namespace-unknown' }]);

  const byName = stageCatalog(catalog, revisions(revision(old, 1, true)), 'canary-b', {});
  t.match(byName.choices, [{ serves: 'promoted' }], 'a namespace is matched on its labels only');
  const named = buildCatalog([
    {
      templates: [
        clusterTemplate(
          canaryObject('registry.example/proxy:2', {
            canary: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'canary-b' } } },
          }),
        ),
      ],
      failures: [],
    },
  ]);
  t.match(
    stageCatalog(named, revisions(revision(old, 1, true)), 'canary-b', {}).choices,
    [{ serves: 'current' }],
    'and on kubernetes.io/metadata.name, which the API server sets',
  );
});

t.test('nothing is staged when the current spec is promoted, without a canary, or before any revision is promoted', async (t) => {
  const promoted = stageCatalog(catalog, revisions(revision(old, 1, true), revision(current, 2, true)), 'shop', {});
  t.equal(promoted.catalog, catalog, 'the catalog in force, unchanged');
  t.same(promoted.choices, []);
  const plain = clusterTemplate(proxyObject(65535, { image: 'registry.example/proxy:2' }));
  const noCanary = buildCatalog([{ templates: [plain], failures: [] }]);
  t.same(stageCatalog(noCanary, revisions(revision(old, 1, true)), 'shop', {}).choices, [], 'no canary: served everywhere');
  t.same(
    stageCatalog(catalog, revisions(revision(old, 1, false), revision(current, 2, false)), 'shop', {}).choices,
    [],
    'none promoted yet: the recorder promotes the current one',
  );
  t.same(stageCatalog(catalog, revisions(), 'shop', {}).choices, [], 'no revision yet: the first is promoted as it is kept');
  const file = buildCatalog([{ templates: [{ ...current, source: 'file:/etc/podpattern/proxy.yaml' }], failures: [] }]);
  t.same(stageCatalog(file, revisions(revision(old, 1, true)), 'shop', {}).choices, [], 'only cluster templates keep revisions');
});

const request = (namespace: string): AdmissionRequest => ({
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  namespace,
  operation: 'CREATE',
  object: pod(namespace),
});

function review(served: ServedRevisions, namespace: string, failureMode: 'open' | 'closed') {
  return decide(request(namespace), {
    inject,
    catalog: () => catalog,
    nativeSidecars: 'never',
    failureMode,
    stage: (c, ns) => stageCatalog(c, served, ns, ns === 'canary-a' ? { stage: 'canary' } : {}),
  });
}

t.test('a promoted revision that cannot be served: the failure mode answers, never the current spec', async (t) => {
  const hostile: Array<[string, V1ControllerRevision[], RegExp]> = [
    ['not loaded yet', [], /not loaded yet/],
    [
      'content other than its hash says',
      [revision(old, 1, true, (o) => (o.data.spec.containers[0].image = 'registry.example/evil:1')), revision(current, 2, false)],
      /content hash is [0-9a-f]{16}, not/,
    ],
    [
      'not a valid template',
      [revision(old, 1, true, (o) => (o.data.spec.pattern = 'rootkit')), revision(current, 2, false)],
      /not a valid template/,
    ],
    [
      'named for another hash',
      [revision(old, 1, true, (o) => (o.metadata.name = 'edge-proxy-0000000000000000')), revision(current, 2, false)],
      /is not named edge-proxy-/,
    ],
    [
      'a template spec nested past the bound',
      [
        revision(old, 1, true, (o) => (o.data.spec.podAnnotations = JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)))),
        revision(current, 2, false),
      ],
      /nested more than/,
    ],
  ];
  for (const [what, objects, why] of hostile) {
    const served = what === 'not loaded yet' ? new ServedRevisions() : revisions(...objects);
    const open = review(served, 'shop', 'open');
    t.equal(open.outcome, 'error', `${what}: an error`);
    t.equal(open.reason, 'revision-unavailable');
    t.equal(open.response.allowed, true, `${what}: failure mode open admits the pod`);
    t.equal(open.response.patch, undefined, `${what}: without a patch`);
    t.match(open.response.warnings?.[0], why, `${what}: the warning says why`);
    t.match(open.staged, [{ template: 'edge-proxy', serves: 'unavailable' }]);
    const closed = review(served, 'shop', 'closed');
    t.equal(closed.response.allowed, false, `${what}: failure mode closed refuses it`);
    t.match(closed.response.status?.message, why);
    if (what !== 'not loaded yet') {
      const canary = review(served, 'canary-a', 'closed');
      t.equal(canary.outcome, 'injected', `${what}: the canary namespace still gets the current spec`);
      t.match(canary.staged, [{ serves: 'current' }]);
    }
  }
});

t.test('a revision changed in place is validated again; the highest-numbered promoted one counts', async (t) => {
  const served = revisions(revision(old, 1, true), revision(current, 2, false));
  t.equal(served.of('edge-proxy')?.latest?.template?.hash, old.hash);
  served.put(
    revision(old, 1, true, (o) => {
      o.metadata.resourceVersion = '9';
      o.data.spec.description = 'changed in place';
    }),
  );
  t.match(served.of('edge-proxy')?.latest, { hash: old.hash, problem: /content hash/ }, 'its content no longer matches its hash');
  const third = clusterTemplate(canaryObject('registry.example/proxy:3'));
  served.put(revision(third, 3, true));
  t.equal(served.of('edge-proxy')?.latest?.hash, third.hash, 'a higher promoted revision takes over');
  served.remove(revision(third, 3, true));
  t.equal(served.of('edge-proxy')?.latest?.revision, 1, 'and its deletion gives it back');
});

t.test('bounded: past maxRevisions none is kept, and they are counted', async (t) => {
  const served = new ServedRevisions({ maxRevisions: 2 });
  served.put(revision(old, 1, true));
  served.put(revision(current, 2, false));
  served.put(revision(clusterTemplate(canaryObject('registry.example/proxy:3')), 3, true));
  served.listed = true;
  t.same(served.counts(), { revisions: 2, leftOut: 1 });
  t.equal(served.of('edge-proxy')?.latest?.revision, 1, 'the one left out is not served');
  served.put({ metadata: { name: 'stray', labels: {} } } as V1ControllerRevision);
  t.same(served.counts(), { revisions: 2, leftOut: 1 }, 'a ControllerRevision owned by no template is not one');
});
