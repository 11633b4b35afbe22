// The rollout controller restarting workloads, against the fake API server and the real index
// (harness.ts): the order and the bounds (maxConcurrent, one per namespace), the health gate
// passed and failed (timeout, the injected containers' restarts), a refusal by the API server
// with its reason, a conflict that is none, pause and resume with the CLI, bare pods and Jobs only
// reported, manual templates left alone. What is checked is what the API server stored.
import t from 'tap';
import { PAUSED_KEY } from '../../src/rollout/plan.js';
import {
  NAME,
  addDeployment,
  addTemplate,
  hashOf,
  outdatedInTwoNamespaces,
  pausedCondition,
  restartedAt,
  rollOut,
  rolloutOf,
  setPods,
  setup,
  stored,
  templateSpec,
  type Json,
} from './harness.js';

t.test(
  'outdated Deployments are restarted as kubectl rollout restart does: one per namespace, maxConcurrent at once, each after the last passed its gate',
  async (t) => {
    const h = await setup(t, { a: {}, b: {}, c: {} });
    const rollout = { restart: 'auto', maxConcurrent: 2 };
    addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
    const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
    for (const [ns, name] of [
      ['a', 'web'],
      ['a', 'api'],
      ['b', 'web'],
      ['c', 'web'],
    ] as const)
      addDeployment(h, ns, name, old);

    t.same((await h.pass()).restarted, ['a/Deployment/api', 'b/Deployment/web'], 'two at once, never two in one namespace');
    t.equal(restartedAt(h, 'a', 'api'), new Date(h.now()).toISOString(), 'the pod template carries restartedAt');
    t.equal(restartedAt(h, 'a', 'web'), undefined, 'a/web waits: its namespace is busy');
    const patch = h.api.patches.find((p) => p.path.endsWith('/deployments/api'))!;
    t.equal(patch.contentType, 'application/merge-patch+json');
    t.ok(patch.body.metadata.resourceVersion, 'conditional on the version read');
    t.match(rolloutOf(h), {
      revision: current,
      phase: 'Progressing',
      restarted: [
        { namespace: 'a', name: 'api', hash: current, result: 'restarting' },
        { namespace: 'b', name: 'web', result: 'restarting' },
      ],
    });
    t.match(pausedCondition(h), { status: 'False', reason: 'Progressing' });
    t.ok(
      stored(h).status.conditions.some((c: Json) => c.type === 'Ready'),
      'the Ready condition is kept',
    );
    t.match(
      h.api.events.find((e) => e.reason === 'RolloutRestarted'),
      { type: 'Normal', involvedObject: { kind: 'Deployment', namespace: 'a', name: 'api' } },
    );

    h.advance(10_000);
    t.same((await h.pass()).restarted, [], 'nothing more while both are rolling');

    rollOut(h, 'a', 'api', current);
    h.advance(10_000);
    t.same((await h.pass()).restarted, ['a/Deployment/web'], 'a/api passed its gate: its namespace takes the next');
    t.match(
      rolloutOf(h)!.restarted.find((e) => e.name === 'api'),
      { result: 'passed' },
    );

    rollOut(h, 'b', 'web', current);
    rollOut(h, 'a', 'web', current);
    h.advance(10_000);
    t.same((await h.pass()).restarted, ['c/Deployment/web']);
    rollOut(h, 'c', 'web', current);
    h.advance(10_000);
    t.same((await h.pass()).restarted, []);
    t.match(rolloutOf(h), { phase: 'Complete' });
    t.same(h.results, ['passed', 'passed', 'passed', 'passed']);
    t.equal(h.api.patches.filter((p) => p.path.includes('/deployments/')).length, 4, 'each restarted once');
    h.advance(10_000);
    t.same((await h.pass()).restarted, [], 'and never again');
  },
);

t.test('a gate that times out pauses the template: annotation, condition, Events on the workload and the template, metrics', async (t) => {
  const { h, current } = await outdatedInTwoNamespaces(t, { restart: 'auto', healthTimeoutSeconds: 60 });
  t.same((await h.pass()).restarted, ['a/Deployment/web'], 'maxConcurrent 1 by default');
  h.advance(30_000);
  t.same((await h.pass()).paused, [], 'within the timeout it waits');
  t.match(rolloutOf(h)!.restarted[0], { result: 'restarting', message: /0 of 3 new replicas|waiting for the Deployment controller/ });
  h.advance(31_000);
  t.same((await h.pass()).paused, [NAME]);
  const reason = stored(h).metadata.annotations[PAUSED_KEY];
  t.match(reason, /^Deployment a\/web failed the health gate for revision \w+: its rollout did not complete within 60s/);
  t.notMatch(reason, /\n/, 'one line');
  t.match(rolloutOf(h), { phase: 'Paused', restarted: [{ name: 'web', namespace: 'a', result: 'failed' }] });
  t.match(pausedCondition(h), { status: 'True', reason: 'Paused', message: reason });
  t.match(
    h.api.events.find((e) => e.reason === 'RolloutHealthCheckFailed'),
    { type: 'Warning', involvedObject: { kind: 'Deployment', namespace: 'a', name: 'web' } },
  );
  t.match(
    h.api.events.find((e) => e.reason === 'RolloutPaused'),
    { type: 'Warning', involvedObject: { kind: 'PatternTemplate', name: NAME } },
  );
  t.same(h.results, ['failed']);
  t.equal(h.paused.get(NAME), true, 'the paused gauge is 1');
  h.advance(600_000);
  t.same((await h.pass()).restarted, [], 'paused: b/web is not restarted');
  t.equal(restartedAt(h, 'b', 'web'), undefined);
  t.ok(current);
});

t.test(
  "the injected containers' restarts, all told over the new pods: within maxInjectedRestarts it passes, past it the gate fails before the rollout completes",
  async (t) => {
    const { h, current } = await outdatedInTwoNamespaces(t, { restart: 'auto', maxInjectedRestarts: 1 });
    await h.pass();
    rollOut(h, 'a', 'web', current, [1, 0, 0]);
    t.same((await h.pass()).restarted, ['b/Deployment/web'], 'one restart in all is within the bound: a/web passed');
    t.match(
      rolloutOf(h)!.restarted.find((e) => e.namespace === 'a'),
      { result: 'passed' },
    );
    // b/web's new pods exist but its rollout has not completed: restarts alone fail it.
    setPods(h, { namespace: 'b', name: 'web' }, current, 2, [1, 1, 0]);
    t.same((await h.pass()).paused, [NAME]);
    t.match(
      rolloutOf(h)!.restarted.find((e) => e.namespace === 'b'),
      { result: 'failed', message: /restarted 2 times \(at most 1\): web-2-\d\/proxy restarted 1 times/ },
    );
    t.match(stored(h).metadata.annotations[PAUSED_KEY], /Deployment b\/web failed the health gate/);
    t.same(h.results, ['passed', 'failed']);
  },
);

t.test('a restart the API server refuses (RBAC) pauses the template with its reason', async (t) => {
  const h = await setup(t, { a: {} });
  const rollout = { restart: 'auto' };
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
  addDeployment(h, 'a', 'web', hashOf(templateSpec('proxy:1', rollout)));
  h.api.refusePatches = [
    403,
    'deployments.apps "web" is forbidden: User "system:serviceaccount:podpattern:podpattern" cannot patch resource "deployments" in API group "apps" in the namespace "a"',
  ];
  const result = await h.pass();
  t.same(result.restarted, []);
  t.same(result.paused, [NAME]);
  t.match(
    stored(h).metadata.annotations[PAUSED_KEY],
    /Deployment a\/web could not be restarted for revision \w+: deployments.apps "web" is forbidden: User .* cannot patch resource "deployments"/,
  );
  t.match(rolloutOf(h), { phase: 'Paused', restarted: [{ name: 'web', result: 'refused', message: /forbidden/ }] });
  t.match(
    h.api.events.find((e) => e.reason === 'RolloutRestartRefused'),
    { type: 'Warning', involvedObject: { kind: 'Deployment', name: 'web' }, message: /forbidden/ },
  );
  t.same(h.results, ['refused']);
  // A conflict (changed meanwhile) is no refusal: the next pass reads it again.
  h.api.refusePatches = undefined;
  t.equal((await h.cli(['resume', NAME])).code, 0);
  t.same((await h.pass()).restarted, ['a/Deployment/web'], 'resumed, the refused restart is tried again');
});

t.test('a conflict or a server error is no refusal: the next pass tries again', async (t) => {
  const h = await setup(t, { a: {} });
  const rollout = { restart: 'auto' };
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
  addDeployment(h, 'a', 'web', hashOf(templateSpec('proxy:1', rollout)));
  h.api.refusePatches = [409, 'the object has been modified'];
  t.same(await h.pass(), { restarted: [], paused: [], promoted: [] });
  t.equal(stored(h).metadata.annotations[PAUSED_KEY], undefined, 'not paused');
  h.api.refusePatches = [500, 'etcdserver: request timed out'];
  t.same((await h.pass()).paused, []);
  h.api.refusePatches = undefined;
  t.same((await h.pass()).restarted, ['a/Deployment/web']);
});

t.test('pause and resume with the CLI: a paused template restarts nothing and says so; resumed, it goes on', async (t) => {
  const { h, current } = await outdatedInTwoNamespaces(t, { restart: 'auto' });
  t.same((await h.pass()).restarted, ['a/Deployment/web']);
  const paused = await h.cli(['pause', NAME, '--reason', 'the proxy team\nwants a look']);
  t.equal(paused.code, 0, paused.err);
  t.equal(stored(h).metadata.annotations[PAUSED_KEY], 'the proxy team wants a look', 'kept as one line');
  rollOut(h, 'a', 'web', current);
  h.advance(10_000);
  t.same((await h.pass()).restarted, [], 'paused');
  t.match(rolloutOf(h), { phase: 'Paused', message: 'the proxy team wants a look' });
  t.match(pausedCondition(h), { status: 'True', reason: 'Paused' });
  t.equal(h.paused.get(NAME), true);
  const status = await h.cli(['status', NAME]);
  t.equal(status.code, 1, 'status exits 1 while paused');
  t.match(status.out, /paused: the proxy team wants a look/);
  t.match(status.out, /phase: Paused/);
  t.match(
    status.out,
    new RegExp(`Deployment a/web\\s+${current}\\s+restarting`),
    'the restart in flight is left to its workload, unjudged',
  );

  const resumed = await h.cli(['resume', NAME]);
  t.equal(resumed.code, 0, resumed.err);
  t.equal(stored(h).metadata.annotations[PAUSED_KEY], undefined);
  t.same((await h.pass()).restarted, ['b/Deployment/web'], 'a/web passed its gate, b/web follows');
  t.match(pausedCondition(h), { status: 'False' });
  t.equal(h.paused.get(NAME), false);
  t.equal((await h.cli(['resume', NAME])).out, `${NAME}: not paused\n`);
});

t.test('bare pods and Jobs running an outdated revision are reported in the status, never restarted', async (t) => {
  const h = await setup(t, { a: {} });
  const rollout = { restart: 'auto' };
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
  const old = hashOf(templateSpec('proxy:1', rollout));
  const status = JSON.stringify({ templates: [{ name: NAME, hash: old }], containers: ['proxy'], initContainers: [] });
  const bare = {
    metadata: {
      name: 'debug',
      namespace: 'a',
      uid: 'uid-debug',
      labels: { 'podpattern.dev/injected': 'true' },
      annotations: { 'podpattern.dev/sidecar': NAME, 'podpattern.dev/status': status },
    },
    status: { phase: 'Running' },
  };
  const job = {
    metadata: {
      name: 'report-1-x',
      namespace: 'a',
      uid: 'uid-job-pod',
      labels: { 'podpattern.dev/injected': 'true' },
      annotations: { 'podpattern.dev/sidecar': NAME, 'podpattern.dev/status': status },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'report-1', uid: 'uid-report-1', controller: true }],
    },
    status: { phase: 'Running' },
  };
  for (const pod of [bare, job]) {
    h.api.pods.push(pod);
    h.index.upsert(pod.metadata);
  }
  const result = await h.pass();
  t.same(result.restarted, []);
  t.same(
    h.api.patches.filter((p) => !p.path.includes('patterntemplates')),
    [],
    'nothing but the template status patched',
  );
  t.match(rolloutOf(h), {
    phase: 'Complete',
    restarted: [
      { kind: 'Job', name: 'report-1', result: 'reported' },
      { kind: 'Pod', name: 'debug', result: 'reported', message: /bare pod/ },
    ],
  });
  await h.pass();
  t.equal(rolloutOf(h)!.restarted.length, 2, 'reported once');
});

t.test('restart: manual templates are left alone, and nothing is judged before the index of injected pods has listed', async (t) => {
  const h = await setup(t, { a: {} });
  addTemplate(h, ['proxy:1', 'proxy:2'], { restart: 'manual' }, 2);
  addDeployment(h, 'a', 'web', hashOf(templateSpec('proxy:1', { restart: 'manual' })));
  t.same((await h.pass()).restarted, []);
  t.equal(stored(h).status.rollout, undefined, 'no status written');
  h.api.templates[0].spec.rollout.restart = 'auto';
  h.index.synced = false;
  t.same((await h.pass()).restarted, []);
  t.match(rolloutOf(h), { message: /index of injected pods/ });
  h.index.synced = true;
  t.same((await h.pass()).restarted, ['a/Deployment/web']);
});
