// Who may use which template and what a namespace requires, as the API server enforces them with
// the chart installed: a template's availability, a tenant's PatternPolicy (required, opted out,
// narrowed, widened), and the aggregated ClusterRole that lets a tenant write policies only.
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, podManifest, requestAnnotations, type Json, type TemplateInfo } from './pods.js';
import type { Context } from './suite.js';

const names = (pod: Json): string[] =>
  [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c: Json) => c.name as string);

function policy(namespace: string, spec: Json): Json {
  return { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default', namespace }, spec };
}

export async function tenancyTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const teamA = await kube.namespace('enabled', { labels: { 'e2e.podpattern.dev/team': 'a' } });
  const teamB = await kube.namespace('enabled', { labels: { 'e2e.podpattern.dev/team': 'b' } });
  const gitSync = ctx.catalog.find((x) => x.name === 'git-sync') as TemplateInfo;
  const logNormalizer = ctx.catalog.find((x) => x.name === 'log-normalizer') as TemplateInfo;
  const httpsProxy = ctx.catalog.find((x) => x.name === 'https-proxy') as TemplateInfo;

  await t.test('git-sync available only to namespace A: a pod in B asking for it is denied not-available', async (t) => {
    // Pods other groups left in other namespaces run git-sync: the impact check refuses the
    // narrowing until it is forced, as an admin does after reading what it breaks.
    const forced = { 'podpattern.dev/force-reason': 'the tenancy tests narrow git-sync to team a' };
    const template = {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'git-sync', annotations: forced },
      spec: { ...gitSync.spec, availability: { namespaceSelector: { matchLabels: { 'e2e.podpattern.dev/team': 'a' } } } },
    };
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(template));
    t.equal(applied.code, 0, outcome(applied, 'the cluster template with its availability is stored'));
    const denied = await eventually('both replicas to hold the cluster git-sync', async () => {
      const created = await kube.create(podManifest(kube.unique('gs-b'), teamB, requestAnnotations(gitSync)));
      return created.code !== 0 ? created : undefined;
    });
    t.match(denied.stderr, /template git-sync is not available to pods of ServiceAccount default in namespace/);
    t.match(denied.stderr, /it is available to namespaces e2e\.podpattern\.dev\/team=a/, 'saying where it is available');
    t.match(denied.stderr, /not-available|not available/);
    for (let i = 0; i < 4; i += 1) {
      // Four in a row, so both replicas are asked (the Service spreads connections).
      const inA = await kube.create(podManifest(kube.unique('gs-a'), teamA, requestAnnotations(gitSync)));
      t.equal(inA.code, 0, outcome(inA, 'a pod in A asking for it is admitted'));
      t.ok(names(inA.object ?? {}).includes('git-sync'), 'and injected');
      const inB = await kube.create(podManifest(kube.unique('gs-b'), teamB, requestAnnotations(gitSync)));
      t.not(inB.code, 0, 'a pod in B is refused');
    }
    await kube.kubectl([
      'annotate',
      'patterntemplate',
      'git-sync',
      '--overwrite',
      'podpattern.dev/force-reason=the tenancy tests are done',
    ]);
    const removed = await kube.kubectl(['delete', 'patterntemplate', 'git-sync', '--wait']);
    t.equal(removed.code, 0, outcome(removed, 'the cluster template is deleted (the built-in serves again)'));
  });

  await t.test('a PatternPolicy in A requiring log-normalizer gives it to a bare pod and denies an opt-out', async (t) => {
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(policy(teamA, { require: [{ template: 'log-normalizer' }] })));
    t.equal(applied.code, 0, outcome(applied));
    const labelled = await eventually('podpattern to label namespace A', async () => {
      const ns = await kube.json(['get', 'namespace', teamA]);
      return ns.metadata.labels?.['podpattern.dev/policy'] === 'require' ? ns : undefined;
    });
    t.equal(labelled.metadata.labels['podpattern.dev/policy'], 'require', 'the namespace carries podpattern.dev/policy=require');
    const status = await eventually('the policy status', async () => {
      const stored = await kube.json(['get', 'patternpolicy', 'default', '-n', teamA]);
      return stored.status?.conditions?.[0]?.status === 'True' ? stored.status : undefined;
    });
    t.match(status.templates, [{ name: 'log-normalizer', role: 'required' }], 'the status names the resolved template');
    const bare = await eventually('a bare pod in A to get log-normalizer', async () => {
      const created = await kube.create(podManifest(kube.unique('bare'), teamA));
      return created.code === 0 && names(created.object ?? {}).includes(logNormalizer.name) ? created : undefined;
    });
    t.equal(bare.object?.metadata.labels?.['podpattern.dev/injected'], 'true', 'the stored bare pod is injected');
    for (let i = 0; i < 4; i += 1) {
      const optOut = await kube.create(podManifest(kube.unique('opt-out'), teamA, { 'podpattern.dev/inject': 'false' }));
      t.not(optOut.code, 0, 'an opt-out is refused');
      t.match(optOut.stderr, /podpattern\.dev\/inject: "false" is refused: PatternPolicy .*\/default requires log-normalizer/);
    }
    const inB = await kube.create(podManifest(kube.unique('bare-b'), teamB));
    t.equal(inB.code, 0, outcome(inB));
    t.notOk(names(inB.object ?? {}).includes(logNormalizer.name), 'a bare pod in B is untouched');
  });

  await t.test('a narrowing of upstream-port is honoured and a widening refused at apply', async (t) => {
    const narrowed = policy(teamA, {
      require: [{ template: 'log-normalizer' }],
      narrow: { 'https-proxy': { 'upstream-port': { minimum: 9000, maximum: 9100 } } },
    });
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(narrowed));
    t.equal(applied.code, 0, outcome(applied));
    const proxy = (port: string) => ({ ...requestAnnotations(httpsProxy), 'https-proxy.podpattern.dev/upstream-port': port });
    const refused = await eventually('the narrowing to reach both replicas', async () => {
      const created = await kube.create(podManifest(kube.unique('narrow'), teamA, proxy('8080')));
      return created.code !== 0 ? created : undefined;
    });
    t.match(refused.stderr, /'8080' must be at least 9000 \(narrowed by PatternPolicy .*\/default\)/);
    const inside = await kube.create(podManifest(kube.unique('narrow-ok'), teamA, proxy('9050')));
    t.equal(inside.code, 0, outcome(inside, 'a port inside the narrowing is admitted'));
    t.ok(names(inside.object ?? {}).includes('https-proxy'));
    const widening = policy(teamA, { narrow: { 'https-proxy': { 'upstream-port': { maximum: 70000 } } } });
    const wider = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(widening));
    t.not(wider.code, 0, 'kubectl apply of a widening fails');
    t.match(
      wider.stderr,
      /spec\.narrow\.https-proxy\.upstream-port\.maximum: 70000 is wider than the template's maximum 65535/,
      'naming it',
    );
    const other = await kube.kubectl(['apply', '-f', '-'], JSON.stringify({ ...narrowed, metadata: { name: 'second', namespace: teamA } }));
    t.not(other.code, 0, 'a second policy, not named default, is refused');
    t.match(other.stderr, /named 'default'/);
  });

  await t.test('a tenant ServiceAccount bound to podpattern-policy-admin can write PatternPolicy but not PatternTemplate', async (t) => {
    await kube.must(['create', 'serviceaccount', 'tenant-admin', '-n', teamB]);
    await kube.must([
      'create',
      'rolebinding',
      'tenant-policy-admin',
      '-n',
      teamB,
      '--clusterrole=podpattern-policy-admin',
      `--serviceaccount=${teamB}:tenant-admin`,
    ]);
    const as = `--as=system:serviceaccount:${teamB}:tenant-admin`;
    const canPolicy = await kube.kubectl(['auth', 'can-i', 'create', 'patternpolicies.podpattern.dev', '-n', teamB, as]);
    t.equal(canPolicy.stdout.trim(), 'yes', 'may create PatternPolicies in its namespace');
    const canTemplate = await kube.kubectl(['auth', 'can-i', 'create', 'patterntemplates.podpattern.dev', as]);
    t.equal(canTemplate.stdout.trim(), 'no', 'may not create PatternTemplates');
    const created = await kube.kubectl(['create', as, '-f', '-'], JSON.stringify(policy(teamB, { forbid: ['git-sync'] })));
    t.equal(created.code, 0, outcome(created, 'an impersonated create of a policy succeeds'));
    const template = {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'tenant-made' },
      spec: logNormalizer.spec,
    };
    const refused = await kube.kubectl(['create', as, '-f', '-'], JSON.stringify(template));
    t.not(refused.code, 0, 'an impersonated create of a template is forbidden');
    t.match(refused.stderr, /forbidden/i);
    const forbidden = await eventually('the forbid to reach both replicas', async () => {
      const asked = await kube.create(podManifest(kube.unique('forbidden'), teamB, requestAnnotations(gitSync)));
      return asked.code !== 0 ? asked : undefined;
    });
    t.match(forbidden.stderr, /template git-sync is forbidden in namespace/);
    await kube.must(['delete', 'patternpolicy', 'default', '-n', teamA]);
    await kube.must(['delete', 'patternpolicy', 'default', '-n', teamB]);
    const unlabelled = await eventually('the label to go with the policy', async () => {
      const ns = await kube.json(['get', 'namespace', teamA]);
      return ns.metadata.labels?.['podpattern.dev/policy'] === undefined ? true : undefined;
    });
    t.ok(unlabelled, 'namespace A no longer carries podpattern.dev/policy');
  });
}
