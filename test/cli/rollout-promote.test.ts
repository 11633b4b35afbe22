// `podpattern rollout promote NAME` against a scripted API server: it labels the template's
// current revision promoted and clears a pause; it refuses, with exit 1 and the reason, a
// template that has no canary, whose current revision is not kept yet or is already promoted,
// and with exit 3 one that does not exist, saying which permission is missing when the API
// server refuses.
import t, { type Test } from 'tap';
import { run as rollout } from '../../src/cli/rollout.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { startFakeKube, status } from '../helpers/fake-apiserver.js';
import { runCaptured } from '../helpers/cli.js';
import { canaryObject, clusterTemplate, proxyObject } from '../impact/fixtures.js';

const TEMPLATE = '/apis/podpattern.dev/v1alpha1/patterntemplates/edge-proxy';
const REVISIONS = '/apis/apps/v1/namespaces/podpattern/controllerrevisions';

function revisionOf(object: unknown, number: number, promoted: boolean) {
  const template = clusterTemplate(object);
  return { hash: template.hash, object: revisionObject(template, { uid: 'tpl-uid-1' }, 'podpattern', number, promoted) };
}

async function cluster(t: Test, template: unknown, revisions: Array<{ object: any }>) {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set(`GET ${TEMPLATE}`, () =>
    template === undefined ? status(404, 'patterntemplates "edge-proxy" not found', 'NotFound') : [200, template],
  );
  kube.routes.set(`GET ${REVISIONS}`, () => [
    200,
    { kind: 'ControllerRevisionList', apiVersion: 'apps/v1', metadata: {}, items: revisions.map((r) => r.object) },
  ]);
  for (const r of revisions) {
    kube.routes.set(`PATCH ${REVISIONS}/${r.object.metadata.name}`, (body) => {
      r.object.metadata.labels = { ...r.object.metadata.labels, ...body.metadata.labels };
      return [200, r.object];
    });
  }
  kube.routes.set(`PATCH ${TEMPLATE}`, () => [200, template]);
  const run = (...argv: string[]) => runCaptured(rollout, ['promote', ...argv, '--kubeconfig', kube.kubeconfig]);
  return { kube, run };
}

t.test('labels the current revision promoted, and only that', async (t) => {
  const first = revisionOf(canaryObject('registry.example/proxy:1'), 1, true);
  const second = revisionOf(canaryObject('registry.example/proxy:2'), 2, false);
  const { kube, run } = await cluster(t, canaryObject('registry.example/proxy:2'), [first, second]);
  const result = await run('edge-proxy');
  t.equal(result.code, 0, result.err);
  t.match(result.out, `promoted revision 2 (${second.hash}) of edge-proxy: every namespace gets it`);
  const patches = kube.requests.filter((r) => r.method === 'PATCH');
  t.same(
    patches.map((p) => p.url),
    [`${REVISIONS}/edge-proxy-${second.hash}`],
  );
  t.same(patches[0]!.body, { metadata: { labels: { 'podpattern.dev/promoted': 'true' } } });
  t.equal(second.object.metadata.labels['podpattern.dev/promoted'], 'true');

  const again = await run('edge-proxy');
  t.equal(again.code, 1, 'already promoted');
  t.match(again.err, `revision 2 (${second.hash}) of edge-proxy is already promoted`);
});

t.test('clears a paused rollout', async (t) => {
  const first = revisionOf(canaryObject('registry.example/proxy:1'), 1, true);
  const second = revisionOf(canaryObject('registry.example/proxy:2'), 2, false);
  const { kube, run } = await cluster(
    t,
    canaryObject('registry.example/proxy:2', undefined, { 'podpattern.dev/rollout-paused': 'canary web failed its health gate' }),
    [first, second],
  );
  const result = await run('edge-proxy');
  t.equal(result.code, 0, result.err);
  t.match(result.out, /cleared podpattern\.dev\/rollout-paused/);
  const template = kube.requests.find((r) => r.method === 'PATCH' && r.url.startsWith(TEMPLATE));
  t.same(
    template?.body,
    { metadata: { annotations: { 'podpattern.dev/rollout-paused': null } } },
    'a merge patch that removes the annotation',
  );
});

t.test('nothing to promote: exit 1 and why', async (t) => {
  const first = revisionOf(canaryObject('registry.example/proxy:1'), 1, true);
  const cases: Array<[string, unknown, Array<{ object: any }>, RegExp]> = [
    ['no canary', proxyObject(), [first], /has no spec\.rollout\.canary/],
    [
      'its revision is not kept yet',
      canaryObject('registry.example/proxy:2'),
      [first],
      /no revision of edge-proxy with its current hash [0-9a-f]{16} in podpattern yet/,
    ],
    ['an invalid template', { ...canaryObject('registry.example/proxy:2'), spec: { pattern: 'sidecar' } }, [first], /is invalid/],
  ];
  for (const [what, template, revisions, why] of cases) {
    const { kube, run } = await cluster(t, template, revisions);
    const result = await run('edge-proxy');
    t.equal(result.code, 1, what);
    t.match(result.err, why, what);
    t.same(
      kube.requests.filter((r) => r.method === 'PATCH'),
      [],
      `${what}: nothing written`,
    );
  }
});

t.test('no such template: exit 3, nothing written', async (t) => {
  const first = revisionOf(canaryObject('registry.example/proxy:1'), 1, true);
  const { kube, run } = await cluster(t, undefined, [first]);
  const result = await run('edge-proxy');
  t.equal(result.code, 3);
  t.match(result.err, /no cluster PatternTemplate edge-proxy/);
  t.same(
    kube.requests.filter((r) => r.method === 'PATCH'),
    [],
  );
});

t.test('a refusal names the permission; a usage error exits 2', async (t) => {
  const second = revisionOf(canaryObject('registry.example/proxy:2'), 2, false);
  const { kube, run } = await cluster(t, canaryObject('registry.example/proxy:2'), [second]);
  kube.routes.set(`PATCH ${REVISIONS}/edge-proxy-${second.hash}`, () =>
    status(
      403,
      'controllerrevisions.apps "edge-proxy-x" is forbidden: User "dev" cannot patch resource "controllerrevisions" in API group "apps" in the namespace "podpattern"',
    ),
  );
  const refused = await run('edge-proxy');
  t.equal(refused.code, 3);
  t.match(
    refused.err,
    /cannot label ControllerRevision podpattern\/edge-proxy-[0-9a-f]{16} promoted: forbidden .*cannot patch resource "controllerrevisions"/,
  );
  const usage = await runCaptured(rollout, ['promote']);
  t.equal(usage.code, 2);
  t.match(usage.err, /give the template's NAME/);
});
