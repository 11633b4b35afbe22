// The impact check, with the real engine: pods injected from a cluster template (as the index
// keeps them), and the template changed. Breaking names the workload and the parameter the
// denial would; a description-only change is neutral; a new image is changing, field by field;
// a delete breaks every user; the budget leaves owners unchecked, counted.
import t from 'tap';
import { inject } from '../../src/engine/index.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import { templateOfObject } from '../../src/catalog/live.js';
import { checkImpact, nextPod } from '../../src/impact/check.js';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import type { Template } from '../../src/model/template.js';
import { deploymentResolver, injectedPod, liveWith, proxyObject } from './fixtures.js';

function template(object: unknown): Template {
  const verdict = validateTemplate(templateOfObject(object), 'cluster', 'edge-proxy');
  if (!verdict.ok) throw new Error(verdict.problems.join('; '));
  return verdict.template;
}

async function setup() {
  const live = liveWith(proxyObject());
  const resolver = deploymentResolver();
  const index = new InjectedPodIndex({ resolver });
  for (const name of ['web-7d9f-a', 'web-7d9f-b']) index.upsert(injectedPod(live, name, { port: '9090' }));
  index.upsert(injectedPod(live, 'api-5c8b-a', { replicaSet: 'api-5c8b' }));
  index.upsert(injectedPod(live, 'api-5c8b-b', { namespace: 'billing', replicaSet: 'api-5c8b', port: '8080' }));
  await resolver.idle();
  return { live, index };
}

function run(live: ReturnType<typeof liveWith>, index: InjectedPodIndex, next: Template | undefined, maxOwners = 100) {
  return checkImpact({
    usages: index.usages('edge-proxy'),
    before: live.current(),
    after: live.preview('edge-proxy', next),
    inject,
    options: (namespace) => ({ nativeSidecars: 'never', namespace }),
    maxOwners,
  });
}

t.test('the index groups pods by namespace, workload and what they asked', async (t) => {
  const { index } = await setup();
  const usages = index
    .usages('edge-proxy')
    .map((u) => `${u.namespace} ${u.workload.kind}/${u.workload.name} ${u.pods} ${JSON.stringify(u.asked)}`)
    .sort();
  t.same(usages, [
    'billing Deployment/api 1 {"edge-proxy.podpattern.dev/upstream-port":"8080","podpattern.dev/sidecar":"edge-proxy"}',
    'shop Deployment/api 1 {"podpattern.dev/sidecar":"edge-proxy"}',
    'shop Deployment/web 2 {"edge-proxy.podpattern.dev/upstream-port":"9090","podpattern.dev/sidecar":"edge-proxy"}',
  ]);
});

t.test('a maximum below a value in use breaks that workload, with the reason the denial gives', async (t) => {
  const { live, index } = await setup();
  const report = run(live, index, template(proxyObject(8080)));
  t.equal(report.breaking.length, 1);
  const [broken] = report.breaking;
  t.equal(`${broken!.usage.namespace} ${broken!.usage.workload.kind}/${broken!.usage.workload.name}`, 'shop Deployment/web');
  t.match(broken!.verdict, { kind: 'breaking' });
  const reasons = broken!.verdict.kind === 'breaking' ? broken!.verdict.reasons.join('\n') : '';
  t.match(reasons, /upstream-port/, 'the reason names the parameter');
  t.match(reasons, /8080/, 'and the new bound');
  // The predicted reason is the engine's own denial of the workload's next pod.
  const denial = inject(nextPod(broken!.usage), live.preview('edge-proxy', template(proxyObject(8080))), {
    nativeSidecars: 'never',
    namespace: 'shop',
  });
  t.equal(denial.outcome, 'denied');
  if (denial.outcome === 'denied') t.equal(reasons, denial.problems.map((p) => p.message).join('\n'));
  t.equal(report.neutral.length, 2, 'the workloads within the new bound are neutral');
});

t.test('a description-only change is neutral for every workload', async (t) => {
  const { live, index } = await setup();
  const report = run(live, index, template(proxyObject(65535, { description: 'Terminates TLS; now with a better description.' })));
  t.same([report.breaking.length, report.changing.length, report.neutral.length, report.unchecked], [0, 0, 3, 0]);
});

t.test('a new image changes every workload, naming the container and field', async (t) => {
  const { live, index } = await setup();
  const report = run(live, index, template(proxyObject(65535, { image: 'registry.example/proxy:2' })));
  t.equal(report.changing.length, 3);
  for (const o of report.changing) t.same(o.verdict, { kind: 'changing', fields: ['containers[edge-proxy].image'] });
});

t.test('deleting the template breaks every workload that uses it', async (t) => {
  const { live, index } = await setup();
  const report = run(live, index, undefined);
  t.equal(report.breaking.length, 3);
  for (const o of report.breaking) t.match(o.verdict, { kind: 'breaking', reasons: [/no template named 'edge-proxy'/] });
});

t.test('past the budget of owners the rest are counted unchecked', async (t) => {
  const { live, index } = await setup();
  const report = run(live, index, template(proxyObject(8080)), 1);
  t.equal(report.unchecked, 2);
  t.equal(report.breaking.length + report.changing.length + report.neutral.length, 1);
});
