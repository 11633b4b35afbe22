// /mutate with a template in canary, through app.inject() with the real engine: the patch the
// server answers, applied to the pod, gives a canary namespace the current spec and another the
// promoted revision; the review's log line names the revision served and why, and
// podpattern_canary_reviews_total counts it. A promoted revision that cannot be served is the
// failure mode's to answer, logged as an error with why.
import t from 'tap';
import type { V1ControllerRevision } from '#kube';
import type { Operation } from 'fast-json-patch';
import { buildApp } from '../../src/server/app.js';
import { buildCatalog } from '../../src/catalog/index.js';
import { applyPatch, inject } from '../../src/engine/index.js';
import type { PodLike } from '../../src/engine/types.js';
import type { Template } from '../../src/model/template.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { ServedRevisions } from '../../src/impact/served-revisions.js';
import { stageCatalog } from '../../src/impact/staged.js';
import { canaryObject, clusterTemplate } from '../impact/fixtures.js';
import { podReview, testDeps } from './fixtures.js';

const old = clusterTemplate(canaryObject('registry.example/proxy:1'));
const current = clusterTemplate(canaryObject('registry.example/proxy:2'));
const catalog = buildCatalog([{ templates: [current], failures: [] }]);
const LABELS: Record<string, Record<string, string>> = { 'canary-a': { stage: 'canary' }, shop: {} };

function served(...revisions: Array<[Template, number, boolean]>): ServedRevisions {
  const index = new ServedRevisions();
  for (const [template, number, promoted] of revisions) index.put(revisionObject(template, { uid: 'u' }, 'podpattern', number, promoted));
  index.listed = true;
  return index;
}

async function mutate(revisions: ServedRevisions, namespace: string) {
  const deps = testDeps({
    inject,
    catalog: () => catalog,
    nativeSidecars: 'never',
    stage: (c, ns) => stageCatalog(c, revisions, ns, ns === undefined ? undefined : LABELS[ns]),
  });
  const review = podReview({ namespace, annotations: { 'podpattern.dev/sidecar': 'edge-proxy' } });
  const app = buildApp(deps);
  const res = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(review),
  });
  await app.close();
  const response = res.json<{ response: { allowed: boolean; patch?: string; warnings?: string[] } }>().response;
  const pod = (review.request as { object: PodLike }).object;
  const stored =
    response.patch === undefined
      ? pod
      : applyPatch<PodLike>(pod, JSON.parse(Buffer.from(response.patch, 'base64').toString()) as Operation[]);
  return { deps, response, stored, image: stored.spec?.containers.find((c) => c.name === 'edge-proxy')?.image };
}

t.test('the canary namespace gets the current spec, another the promoted revision; logged and counted', async (t) => {
  const revisions = served([old, 1, true], [current, 2, false]);
  const canary = await mutate(revisions, 'canary-a');
  t.equal(canary.image, 'registry.example/proxy:2');
  const shop = await mutate(revisions, 'shop');
  t.equal(shop.image, 'registry.example/proxy:1', "the promoted revision's container");
  t.match(JSON.parse(shop.stored.metadata!.annotations!['podpattern.dev/status']!), {
    templates: [{ name: 'edge-proxy', hash: old.hash }],
  });
  const [line] = shop.deps.lines().filter((l) => l.msg === 'review');
  t.same(line?.revisions, [{ template: 'edge-proxy', serves: 'promoted', hash: old.hash, reason: 'outside-canary' }]);
  t.match(
    await shop.deps.metrics.registry.metrics(),
    /podpattern_canary_reviews_total\{template="edge-proxy",serves="promoted",reason="outside-canary"\} 1/,
  );
});

t.test('a promoted revision that cannot be served: failure mode open, an error line that says why', async (t) => {
  const revisions = served([current, 2, false], [old, 1, true]);
  revisions.put({
    ...(revisionObject(old, { uid: 'u' }, 'podpattern', 1, true) as unknown as V1ControllerRevision),
    data: { spec: { ...old.spec, containers: [{ name: 'edge-proxy', image: 'registry.example/evil:1' }] } },
  });
  const shop = await mutate(revisions, 'shop');
  t.equal(shop.response.allowed, true);
  t.equal(shop.response.patch, undefined, 'admitted without injection (failure mode open)');
  t.match(shop.response.warnings?.[0], /cannot serve a template in canary .*content hash/);
  const [line] = shop.deps.lines().filter((l) => l.msg === 'review failed');
  t.match(line, { outcome: 'error', reason: 'revision-unavailable', revisions: [{ template: 'edge-proxy', serves: 'unavailable' }] });
});
