// The rollout controller across revisions and leaders, against the fake API server and the real
// index (harness.ts): the canary first, its soak kept in the status and promotion; a canary that
// fails while soaking, which resumed is not promoted but by `rollout promote`; a new leader that
// goes on from the status; undo with the CLI, after which the controller restarts back what the
// undone revision reached; no restart while this replica's catalog lags; a rollout that
// completed with pods of another revision has not passed.
import t from 'tap';
import { PAUSED_KEY, PROMOTED_LABEL } from '../../src/rollout/plan.js';
import {
  NAME,
  addDeployment,
  addTemplate,
  hashOf,
  outdatedInTwoNamespaces,
  restartedAt,
  rollOut,
  rolloutOf,
  setPods,
  setup,
  stored,
  templateSpec,
} from './harness.js';

t.test('with a canary: the canary namespaces first, then a soak kept in the status, then promotion and the rest', async (t) => {
  const h = await setup(t, { a: {}, 'z-canary': { stage: 'canary' }, b: {} });
  const rollout = {
    restart: 'auto',
    maxConcurrent: 5,
    canary: { namespaceSelector: { matchLabels: { stage: 'canary' } }, soakSeconds: 300 },
  };
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 1);
  const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
  for (const ns of ['a', 'z-canary', 'b']) addDeployment(h, ns, 'web', old);
  t.same((await h.pass()).restarted, ['z-canary/Deployment/web'], 'only the canary, although maxConcurrent allows more');
  t.match(rolloutOf(h), { phase: 'Canary', revision: current, promoted: old });
  rollOut(h, 'z-canary', 'web', current);
  h.advance(10_000);
  t.same((await h.pass()).restarted, []);
  const soak = rolloutOf(h)!;
  t.match(soak, { phase: 'Soaking', soakSince: new Date(h.now()).toISOString() });
  // A new leader goes on from the soak the status keeps.
  h.newLeader();
  h.advance(200_000);
  t.same(await h.pass(), { restarted: [], paused: [], promoted: [] });
  t.equal(rolloutOf(h)!.soakSince, soak.soakSince, 'the soak is not restarted by the new leader');
  h.advance(100_000);
  t.same((await h.pass()).promoted, [NAME]);
  const revision = h.api.revisions.find((r) => r.metadata.annotations['podpattern.dev/template-hash'] === current);
  t.equal(revision.metadata.labels[PROMOTED_LABEL], 'true', 'the revision is labelled promoted');
  t.match(
    h.api.events.find((e) => e.reason === 'RolloutPromoted'),
    { involvedObject: { kind: 'PatternTemplate', name: NAME } },
  );
  t.same((await h.pass()).restarted, ['a/Deployment/web', 'b/Deployment/web'], 'then the rest, one per namespace');
  t.match(rolloutOf(h), { phase: 'Progressing', promoted: current });
});

t.test('a canary workload whose injected containers restart while soaking fails the gate: nothing is promoted', async (t) => {
  const h = await setup(t, { a: {}, canary: { stage: 'canary' } });
  const rollout = { restart: 'auto', canary: { namespaceSelector: { matchLabels: { stage: 'canary' } }, soakSeconds: 300 } };
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 1);
  const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
  addDeployment(h, 'a', 'web', old);
  addDeployment(h, 'canary', 'web', old);
  await h.pass();
  rollOut(h, 'canary', 'web', current);
  await h.pass();
  t.match(rolloutOf(h), { phase: 'Soaking' });
  const stored2 = h.api.objects.get('Deployment/canary/web');
  setPods(h, { namespace: 'canary', name: 'web' }, current, stored2.metadata.generation, [0, 3, 0]);
  h.advance(60_000);
  t.same((await h.pass()).paused, [NAME]);
  t.match(rolloutOf(h), { phase: 'Paused', restarted: [{ namespace: 'canary', result: 'failed', message: /while the canary soaked/ }] });
  h.advance(600_000);
  t.same((await h.pass()).promoted, []);
  t.notOk(h.api.revisions.find((r) => r.metadata.annotations['podpattern.dev/template-hash'] === current).metadata.labels[PROMOTED_LABEL]);
  t.equal(restartedAt(h, 'a', 'web'), undefined, 'the other namespace keeps the old revision');

  // Resumed without a fix, the failed canary still holds promotion back; only promote by hand passes it.
  t.equal((await h.cli(['resume', NAME])).code, 0);
  h.advance(600_000);
  t.same(await h.pass(), { restarted: [], paused: [], promoted: [] });
  t.match(rolloutOf(h), { phase: 'Canary', message: /Deployment canary\/web failed its gate for revision \w+, which is not promoted/ });
  t.equal(restartedAt(h, 'a', 'web'), undefined);
  const promoted = await h.cli(['promote', NAME]);
  t.equal(promoted.code, 0, promoted.err);
  t.equal(
    h.api.revisions.find((r) => r.metadata.annotations['podpattern.dev/template-hash'] === current).metadata.labels[PROMOTED_LABEL],
    'true',
    'the label the controller writes',
  );
  t.same((await h.pass()).restarted, ['a/Deployment/web'], 'then the other namespace follows');
});

t.test('a new leader judges the restarts in flight from the status and restarts nothing twice', async (t) => {
  const { h, current } = await outdatedInTwoNamespaces(t, { restart: 'auto' });
  t.same((await h.pass()).restarted, ['a/Deployment/web']);
  h.newLeader();
  h.advance(10_000);
  t.same((await h.pass()).restarted, [], 'a/web is still rolling (old pods still in the index): not restarted again, b/web waits');
  rollOut(h, 'a', 'web', current);
  h.newLeader();
  t.same((await h.pass()).restarted, ['b/Deployment/web']);
  t.equal(
    h.api.patches.filter((p) => p.path.endsWith('/namespaces/a/deployments/web')).length,
    1,
    'one restart of a/web across the leaders',
  );
});

t.test(
  'undo: the template goes back to the promoted revision, unpaused; the controller restarts what the undone revision reached',
  async (t) => {
    const h = await setup(t, { a: {}, b: {}, c: {} });
    const rollout = { restart: 'auto', healthTimeoutSeconds: 60 };
    addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 1);
    const [old, bad] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
    for (const ns of ['a', 'b', 'c']) addDeployment(h, ns, 'web', old);
    await h.pass();
    rollOut(h, 'a', 'web', bad);
    await h.pass();
    // b/web's new pods crash: the gate fails, c/web is never reached.
    setPods(h, { namespace: 'b', name: 'web' }, bad, 2, [2, 2, 2]);
    t.same((await h.pass()).paused, [NAME]);
    t.equal(restartedAt(h, 'c', 'web'), undefined);

    const undone = await h.cli(['undo', NAME]);
    t.equal(undone.code, 0, undone.err);
    t.match(undone.out, new RegExp(`back to revision 1 \\(${old}\\) from ${bad}; resumed`));
    t.equal(hashOf(stored(h).spec), old, "the stored spec is the revision's again");
    t.same(stored(h).spec.rollout, rollout, 'spec.rollout kept');
    t.equal(stored(h).metadata.annotations[PAUSED_KEY], undefined, 'the pause cleared');
    const jsonPatch = h.api.patches.find((p) => p.contentType.startsWith('application/json-patch+json'))!;
    t.match(jsonPatch.body[0], { op: 'test', path: '/metadata/resourceVersion' }, 'conditional on the version read');

    h.advance(10_000);
    const first = (await h.pass()).restarted;
    t.same(first, ['a/Deployment/web'], 'what the undone revision reached is restarted back');
    t.match(rolloutOf(h), { revision: old, phase: 'Progressing' });
    rollOut(h, 'a', 'web', old);
    t.same((await h.pass()).restarted, ['b/Deployment/web']);
    rollOut(h, 'b', 'web', old);
    t.same((await h.pass()).restarted, []);
    t.match(rolloutOf(h), { phase: 'Complete' });
    t.equal(restartedAt(h, 'c', 'web'), undefined, 'c/web never ran the bad revision: untouched');
  },
);

t.test('undo with no revision to go back to exits 1; usage errors exit 2; a missing template exits 3', async (t) => {
  const h = await setup(t, { a: {} });
  addTemplate(h, ['proxy:1'], { restart: 'auto' }, 1);
  const undo = await h.cli(['undo', NAME]);
  t.equal(undo.code, 1);
  t.match(undo.err, /no revision of edge-proxy to go back to/);
  t.equal((await h.cli(['frobnicate', NAME])).code, 2);
  t.equal((await h.cli(['status'])).code, 2);
  t.equal((await h.cli(['status', NAME, '--reason', 'x'])).code, 2);
  const missing = await h.cli(['status', 'nope']);
  t.equal(missing.code, 3);
  t.match(missing.err, /no cluster PatternTemplate nope/);
  const status = await h.cli(['status', NAME]);
  t.equal(status.code, 0);
  t.match(status.out, /phase: not started/);
});

t.test(
  "no restart starts while this replica's catalog serves another revision; a rollout whose new pods record another revision has not passed",
  async (t) => {
    const rollout = { restart: 'auto', healthTimeoutSeconds: 60 };
    const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
    let served = old;
    const h = await setup(t, { a: {} }, () => served);
    addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
    addDeployment(h, 'a', 'web', old);
    t.same((await h.pass()).restarted, []);
    t.match(rolloutOf(h), { phase: 'Progressing', message: `waiting for the catalog to serve revision ${current}` });
    served = current;
    t.same((await h.pass()).restarted, ['a/Deployment/web']);
    // Rolled out, but injected by a replica still on the old revision.
    rollOut(h, 'a', 'web', old);
    await h.pass();
    t.match(rolloutOf(h)!.restarted[0], { result: 'restarting', message: /3 of its pods record another revision/ });
    rollOut(h, 'a', 'web', current);
    await h.pass();
    t.match(rolloutOf(h), { phase: 'Complete', restarted: [{ result: 'passed' }] });
  },
);
