// The rollout controller and canary serving agree, against the fake API server and the real
// index (harness.ts): a workload outside the canary is restarted only once this replica serves
// the promoted revision there, and a current spec that hashes as an older promoted revision is
// not in canary (served everywhere, as impact/staged.ts serves it), so every namespace is
// restarted onto it.
import t from 'tap';
import { PROMOTED_LABEL } from '../../src/rollout/plan.js';
import { NAME, addDeployment, addTemplate, hashOf, rollOut, rolloutOf, setup, stored, templateSpec } from './harness.js';

const rollout = {
  restart: 'auto',
  maxConcurrent: 5,
  canary: { namespaceSelector: { matchLabels: { stage: 'canary' } }, soakSeconds: 0 },
};
const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];

t.test('outside the canary, no restart before this replica serves the promoted revision there', async (t) => {
  let outside = old;
  const asked: boolean[] = [];
  const h = await setup(t, { a: {}, canary: { stage: 'canary' } }, (template, canary) => {
    t.equal(template, NAME);
    asked.push(canary);
    return canary ? current : outside;
  });
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 1);
  addDeployment(h, 'a', 'web', old);
  addDeployment(h, 'canary', 'web', old);
  t.same((await h.pass()).restarted, ['canary/Deployment/web'], 'the canary first');
  t.same(asked, [true], 'asked what this replica serves in a canary namespace');
  rollOut(h, 'canary', 'web', current);
  t.same((await h.pass()).promoted, [NAME], 'passed, soaked (0 s) and promoted');
  const revision = h.api.revisions.find((r) => r.metadata.annotations['podpattern.dev/template-hash'] === current);
  t.equal(revision.metadata.labels[PROMOTED_LABEL], 'true');
  t.same((await h.pass()).restarted, [], 'the replica still serves the old revision outside the canary');
  t.match(rolloutOf(h), { phase: 'Progressing', promoted: current, message: `waiting for the catalog to serve revision ${current}` });
  outside = current;
  t.same((await h.pass()).restarted, ['a/Deployment/web'], 'once it serves the promoted revision there');
});

t.test('a current spec that hashes as an older promoted revision is not in canary: every namespace is restarted onto it', async (t) => {
  const h = await setup(t, { a: {}, canary: { stage: 'canary' } });
  // Revisions 1 (proxy:1) and 2 (proxy:2) both promoted; the spec goes back to proxy:1.
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
  stored(h).spec = templateSpec('proxy:1', rollout);
  addDeployment(h, 'a', 'web', current);
  addDeployment(h, 'canary', 'web', current);
  t.same((await h.pass()).restarted.sort(), ['a/Deployment/web', 'canary/Deployment/web']);
  t.match(rolloutOf(h), { phase: 'Progressing', revision: old, promoted: current });
  t.same(
    rolloutOf(h)!.restarted.map((e) => e.hash),
    [old, old],
    'both for the spec in force',
  );
});
