// Webhook-less tenancy on a real API server: the tenancy group's cases with the compiled
// admission policies only, podpattern's Deployment scaled to 0. Each case runs first through
// the webhook (in namespaces it serves), then, with the webhook gone, through the policies (in
// namespaces only they select), and the stored pods and denials are compared. Runs only where the
// API server serves admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and
// later). What webhook-less mode does differently is asserted as such (docs/tenancy.md).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { REPO_ROOT } from './harness.js';
import { RELEASE, RELEASE_NAMESPACE, eventually, type Kube } from './kube.js';
import { outcome, podManifest, requestAnnotations, type Json, type TemplateInfo } from './pods.js';
import { comparable, denial, mutatingPoliciesServed } from './suite-policy.js';
import type { Context } from './suite.js';
import type { RunResult } from './cluster.js';

/** Selects the namespaces the compiled policies serve here; the webhook serves none of them. */
const POLICIES_LABEL = 'podpattern-e2e/tenancy';
const TEAM = 'e2e.podpattern.dev/team';
/** The compiled objects are renamed, so they never replace the policy group's. */
const PREFIX = 'e2e-tenancy-';

function patternPolicy(namespace: string, spec: Json): Json {
  return { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default', namespace }, spec };
}

type Result = RunResult & { object?: Json };

interface Case {
  label: string;
  team: 'a' | 'b' | 'r' | 'd';
  pod: Json;
}

/** A cluster template that D's PatternPolicy requires and that is then deleted: no built-in has its name. */
const DOOMED = 'e2e-doomed';

/**
 * `podpattern policy … -o json`'s objects (the workload warnings left out), renamed and bound to
 * the namespaces POLICIES_LABEL selects, availability kept. Without `required`, the policy for
 * required templates not compiled is left out too: it lists the templates of its own run, and
 * the run that keeps it must name every template installed.
 */
function compiled(args: string[], input?: string, required = true): Json[] {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js'), 'policy', ...args, '-o', 'json'], {
    encoding: 'utf8',
    input,
  });
  if (run.status !== 0) throw new Error(`podpattern policy ${args.join(' ')}: ${run.stderr}`);
  const items = (JSON.parse(run.stdout) as Json).items as Json[];
  return items
    .filter((item) => !String(item.metadata.name).startsWith('podpattern-workloads'))
    .filter((item) => required || item.metadata.name !== 'podpattern-required-templates')
    .map((item) => {
      const copy = structuredClone<Json>(item);
      copy.metadata.name = String(copy.metadata.name).replace(/^podpattern-/, PREFIX);
      if (String(copy.kind).endsWith('Binding')) {
        copy.spec.policyName = String(copy.spec.policyName).replace(/^podpattern-/, PREFIX);
        const selector = copy.spec.matchResources.namespaceSelector as Json;
        selector.matchExpressions = (selector.matchExpressions as Json[]).map((e) =>
          e.key === 'podpattern.dev/injection' ? { key: POLICIES_LABEL, operator: 'In', values: ['policies'] } : e,
        );
      }
      return copy;
    });
}

type ApplyCase = [string, (namespace: string) => Promise<Result>];

/**
 * Writes of a namespace's PatternPolicy that the API server refuses at apply: a widening of
 * https-proxy's upstream port past the template's maximum, and a second policy not named
 * default. replace, not apply: a merge would keep the minimum of the policy already stored.
 */
function applyCases(kube: Kube, spec: Json): { widening: Json; cases: ApplyCase[] } {
  const widening = { ...spec, narrow: { 'https-proxy': { 'upstream-port': { maximum: 70000 } } } };
  return {
    widening,
    cases: [
      [
        "a widening of upstream-port past the template's maximum",
        (namespace) => kube.kubectl(['replace', '-f', '-'], JSON.stringify(patternPolicy(namespace, widening))),
      ],
      [
        'a second policy, not named default',
        (namespace) =>
          kube.kubectl(
            ['create', '-f', '-'],
            JSON.stringify({ ...patternPolicy(namespace, spec), metadata: { name: 'second', namespace } }),
          ),
      ],
    ],
  };
}

/** Each write refused (through the webhook), recorded by its label. */
async function recordApplyRefusals(t: Test, cases: ApplyCase[], namespace: string): Promise<Map<string, Result>> {
  const recorded = new Map<string, Result>();
  for (const [label, write] of cases) {
    const refused = await write(namespace);
    t.not(refused.code, 0, `${label}: refused`);
    t.comment(`${label}: webhook ${denial(refused.stderr)}`);
    recorded.set(label, refused);
  }
  t.match(
    recorded.get(cases[0]?.[0] as string)?.stderr,
    /spec\.narrow\.https-proxy\.upstream-port\.maximum: 70000 is wider than the template's maximum 65535/,
  );
  return recorded;
}

/** With the webhook scaled to 0: each write refused by the compiled review with the webhook's words (the namespace aside). */
async function compareApplyRefusals(
  t: Test,
  kube: Kube,
  run: { widening: Json; cases: ApplyCase[]; recorded: Map<string, Result>; compiled: Json[]; webhook: string; policies: string },
): Promise<void> {
  t.ok(
    run.compiled.some(
      (o) => o.kind === 'ValidatingAdmissionPolicy' && o.spec.matchConstraints.resourceRules[0].resources[0] === 'patternpolicies',
    ),
    'the compiled objects include the review of PatternPolicy writes',
  );
  // The API server's informer sees the review a moment after it is stored.
  await eventually('the review of PatternPolicy writes to be in force', async () => {
    const dry = await kube.kubectl(['replace', '--dry-run=server', '-f', '-'], JSON.stringify(patternPolicy(run.policies, run.widening)));
    return dry.code !== 0 ? true : undefined;
  });
  const words = (stderr: string, namespace: string): string => denial(stderr).split(namespace).join('$NAMESPACE');
  for (const [label, write] of run.cases) {
    const webhook = run.recorded.get(label) as Result;
    const policies = await write(run.policies);
    t.not(policies.code, 0, `${label}: refused with the webhook scaled to 0`);
    t.equal(words(policies.stderr, run.policies), words(webhook.stderr, run.webhook), `${label}: the same denial`);
  }
}

/** The webhook's denials of the cases by their index: git-sync in B, the opt-out in R, the narrowing in A, the deleted template in D. */
function webhookDenials(t: Test, result: (index: number) => Result | undefined): void {
  t.equal(result(1)?.code !== 0, true, 'git-sync in B is refused');
  t.match(result(1)?.stderr, /not available to pods of ServiceAccount default/);
  t.match(result(3)?.stderr, /podpattern\.dev\/inject: "false" is refused/);
  t.match(result(6)?.stderr, /'8080' must be at least 9000 \(narrowed by PatternPolicy .*\/default\)/);
  t.match(
    result(8)?.stderr,
    new RegExp(`PatternPolicy .*/default requires template ${DOOMED}, which is not in the catalog \\(deleted\\?\\)`),
    'the webhook names the policy and the deleted template',
  );
}

/**
 * Through the webhook: DOOMED stored as a cluster template, a PatternPolicy in `namespace`
 * requiring it, then DOOMED deleted (with a force reason: a template a policy requires).
 */
async function requireThenDelete(t: Test, kube: Kube, namespace: string, parts: { spec: Json; policy: Json }): Promise<void> {
  const template = { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: DOOMED }, spec: parts.spec };
  const created = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(template));
  t.equal(created.code, 0, outcome(created, `${DOOMED} is stored`));
  // The webhook's review of the policy wants the template in its catalog, which sees it a moment later.
  const policy = await eventually(`the PatternPolicy requiring ${DOOMED} to be stored`, async () => {
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(parts.policy));
    return applied.code === 0 ? applied : undefined;
  });
  t.equal(policy.code, 0, outcome(policy, `the PatternPolicy of ${namespace} requires ${DOOMED}`));
  await kube.must([
    'annotate',
    'patterntemplate',
    DOOMED,
    '--overwrite',
    'podpattern.dev/force-reason=the tenancy-policies tests delete it',
  ]);
  const removed = await kube.kubectl(['delete', 'patterntemplate', DOOMED, '--wait']);
  t.equal(removed.code, 0, outcome(removed, `${DOOMED} is deleted while the policy requires it`));
}

export async function tenancyPolicyTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const served = await mutatingPoliciesServed(kube);
  if (!served) {
    t.comment(
      `tenancy-policies tests not run: kube-apiserver ${ctx.cluster.serverVersion} does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later)`,
    );
    return;
  }
  const find = (name: string): TemplateInfo => ctx.catalog.find((x) => x.name === name) as TemplateInfo;
  const gitSync = find('git-sync');
  const httpsProxy = find('https-proxy');
  const exporter = find('redis-exporter');
  const proxy = (port: string): Record<string, string> => ({
    ...requestAnnotations(httpsProxy),
    'https-proxy.podpattern.dev/upstream-port': port,
  });
  // A: git-sync is available there; its PatternPolicy forbids redis-exporter and narrows
  // https-proxy's upstream port. B: git-sync is not available; no policy. R: its PatternPolicy
  // requires log-normalizer. (The webhook composes a required template with one a pod asks for;
  // the policies inject one template per pod, so what pods ask for is tested where nothing is
  // required, and the difference on its own.) D: its PatternPolicy requires DOOMED, which is
  // deleted (through the webhook) or has no compiled policies (through the policies).
  const teams = { a: 'a', b: 'b', r: 'b', d: 'b' } as const;
  const namespaces = async (extra: Record<string, string>, injection?: 'enabled'): Promise<Record<keyof typeof teams, string>> => ({
    a: await kube.namespace(injection, { labels: { [TEAM]: teams.a, ...extra } }),
    b: await kube.namespace(injection, { labels: { [TEAM]: teams.b, ...extra } }),
    r: await kube.namespace(injection, { labels: { [TEAM]: teams.r, ...extra } }),
    d: await kube.namespace(injection, { labels: { [TEAM]: teams.d, ...extra } }),
  });
  const viaWebhook = await namespaces({}, 'enabled');
  const viaPolicies = await namespaces({ [POLICIES_LABEL]: 'policies' });
  const specA = { forbid: ['redis-exporter'], narrow: { 'https-proxy': { 'upstream-port': { minimum: 9000, maximum: 9100 } } } };
  const specR = { require: [{ template: 'log-normalizer' }] };
  const specD = { require: [{ template: DOOMED }] };
  const forced = { 'podpattern.dev/force-reason': 'the tenancy-policies tests narrow git-sync to team a' };
  const cases: Case[] = [
    { label: 'git-sync asked for in A, where it is available', team: 'a', pod: podManifest('gs-a', 'x', requestAnnotations(gitSync)) },
    { label: 'git-sync asked for in B: not-available', team: 'b', pod: podManifest('gs-b', 'x', requestAnnotations(gitSync)) },
    { label: 'a bare pod in R gets log-normalizer', team: 'r', pod: podManifest('bare-r', 'x') },
    { label: 'an opt-out in R: required-by-policy', team: 'r', pod: podManifest('opt-out', 'x', { 'podpattern.dev/inject': 'false' }) },
    { label: 'a bare pod in A is untouched', team: 'a', pod: podManifest('bare-a', 'x') },
    { label: 'redis-exporter in A: forbidden-by-policy', team: 'a', pod: podManifest('forbidden', 'x', requestAnnotations(exporter)) },
    { label: 'https-proxy in A below the narrowed minimum', team: 'a', pod: podManifest('narrow-low', 'x', proxy('8080')) },
    { label: 'https-proxy in A inside the narrowing', team: 'a', pod: podManifest('narrow-ok', 'x', proxy('9050')) },
    {
      label: 'template deleted while a policy requires it: a pod there is denied naming both',
      team: 'd',
      pod: podManifest('doomed', 'x'),
    },
  ];
  const recorded = new Map<string, Result>();
  const apply = applyCases(kube, specA);
  let recordedApply = new Map<string, Result>();
  const create = (c: Case, namespace: string): Promise<Result> => kube.create({ ...c.pod, metadata: { ...c.pod.metadata, namespace } });
  let storedGitSync: Json | undefined;
  let compiledObjects: Json[] = [];
  await t.test('through the webhook: the cases, recorded', async (t) => {
    const template = {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'git-sync', annotations: forced },
      spec: { ...gitSync.spec, availability: { namespaceSelector: { matchLabels: { [TEAM]: 'a' } } } },
    };
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(template));
    t.equal(applied.code, 0, outcome(applied, 'the cluster git-sync with its availability is stored'));
    for (const [team, spec] of [
      ['a', specA],
      ['r', specR],
    ] as const) {
      const stored = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(patternPolicy(viaWebhook[team], spec)));
      t.equal(stored.code, 0, outcome(stored, `the PatternPolicy of ${team}`));
    }
    await requireThenDelete(t, kube, viaWebhook.d, { spec: find('log-normalizer').spec, policy: patternPolicy(viaWebhook.d, specD) });
    // Both replicas hold the template and the policies once each answers as expected four times running.
    const probe = (team: keyof typeof viaWebhook, annotations: Record<string, string> = {}) =>
      kube.create(podManifest(kube.unique('probe'), viaWebhook[team], annotations), ['--dry-run=server']);
    await eventually('both replicas to hold the cluster git-sync and both policies', async () => {
      for (let i = 0; i < 4; i += 1) {
        const unavailable = await probe('b', requestAnnotations(gitSync));
        const required = await probe('r');
        const forbidden = await probe('a', requestAnnotations(exporter));
        const doomed = await probe('d');
        if (
          !doomed.stderr.includes(`requires template ${DOOMED}, which is not in the catalog`) ||
          unavailable.code === 0 ||
          required.object?.metadata?.annotations?.['podpattern.dev/status'] === undefined ||
          forbidden.code === 0
        )
          return undefined;
      }
      return true;
    });
    for (const c of cases) {
      const result = await create(c, viaWebhook[c.team]);
      recorded.set(c.label, result);
      t.comment(`${c.label}: webhook ${result.code === 0 ? 'admitted' : denial(result.stderr)}`);
    }
    webhookDenials(t, (i) => recorded.get(cases[i]?.label as string));
    const composed = await kube.create(podManifest('both', viaWebhook.r, requestAnnotations(httpsProxy)));
    t.equal(composed.code, 0, outcome(composed, 'a pod in R asking for https-proxy is admitted'));
    const names = [...(composed.object?.spec?.initContainers ?? []), ...(composed.object?.spec?.containers ?? [])].map(
      (c: Json) => c.name as string,
    );
    t.ok(names.includes('https-proxy') && names.includes('log-normalizer'), 'with both templates: the webhook composes them');
    recordedApply = await recordApplyRefusals(t, apply.cases, viaWebhook.a);
    storedGitSync = await kube.json(['get', 'patterntemplate', 'git-sync']);
  });

  await t.test('podpattern scaled to 0: no webhook answers, no controller labels namespaces', async (t) => {
    const scaled = await kube.kubectl(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=0']);
    t.equal(scaled.code, 0, outcome(scaled));
    t.same(await kube.webhookEndpoints(0), [], 'the Service has no endpoints');
    await eventually("podpattern's pods to be gone", async () => ((await kube.webhookPods()).length === 0 ? true : undefined));
  });

  await t.test('the compiled policies (availability and PatternPolicy included) are accepted', async (t) => {
    // DOOMED is not compiled: its policies are gone with it. The second run's policy for required
    // templates not compiled is kept (it lacks git-sync, which no namespace here requires).
    const objects = [
      ...compiled(['-f', '-'], JSON.stringify(storedGitSync), false),
      ...compiled(['log-normalizer', 'https-proxy', 'redis-exporter']),
    ];
    compiledObjects = objects;
    // The API server type-checks each policy's CEL as it stores it; on a loaded machine a large
    // one can outlast the request's timeout, so the (idempotent) apply is repeated until all are stored.
    const applied = await eventually(
      'the compiled policies to be stored',
      async () => {
        const result = await kube.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
        return result.code === 0 ? result : undefined;
      },
      600_000,
    );
    t.equal(applied.code, 0, outcome(applied));
    t.ok(
      objects.some((o) => o.kind === 'MutatingAdmissionPolicy' && o.spec.paramKind?.kind === 'PatternPolicy'),
      "with policies whose param is the namespace's PatternPolicy",
    );
    const r = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(patternPolicy(viaPolicies.r, specR)));
    t.equal(r.code, 0, outcome(r, 'the PatternPolicy of R is stored (its review by podpattern fails open)'));
    const d = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(patternPolicy(viaPolicies.d, specD)));
    t.equal(d.code, 0, outcome(d, `the PatternPolicy of D, requiring ${DOOMED}, is stored`));
    // A's policy is written by a tenant ServiceAccount bound to podpattern-policy-admin: RBAC decides, not podpattern.
    await kube.must(['create', 'serviceaccount', 'tenant-admin', '-n', viaPolicies.a]);
    await kube.must([
      'create',
      'rolebinding',
      'tenant-policy-admin',
      '-n',
      viaPolicies.a,
      '--clusterrole=podpattern-policy-admin',
      `--serviceaccount=${viaPolicies.a}:tenant-admin`,
    ]);
    const as = `--as=system:serviceaccount:${viaPolicies.a}:tenant-admin`;
    const a = await kube.kubectl(['create', as, '-f', '-'], JSON.stringify(patternPolicy(viaPolicies.a, specA)));
    t.equal(a.code, 0, outcome(a, 'the tenant writes the PatternPolicy of A'));
    const template = await kube.kubectl(
      ['create', as, '-f', '-'],
      JSON.stringify({
        apiVersion: 'podpattern.dev/v1alpha1',
        kind: 'PatternTemplate',
        metadata: { name: 'tenant-made' },
        spec: httpsProxy.spec,
      }),
    );
    t.not(template.code, 0, 'but not a PatternTemplate');
    // The API server's informers see policies and params a moment later.
    await eventually('the policies to inject and to deny', async () => {
      const bare = await kube.create(podManifest(kube.unique('probe'), viaPolicies.r), ['--dry-run=server']);
      const forbidden = await kube.create(podManifest(kube.unique('probe'), viaPolicies.a, requestAnnotations(exporter)), [
        '--dry-run=server',
      ]);
      const optOut = await kube.create(podManifest(kube.unique('probe'), viaPolicies.r, { 'podpattern.dev/inject': 'false' }), [
        '--dry-run=server',
      ]);
      const doomed = await kube.create(podManifest(kube.unique('probe'), viaPolicies.d), ['--dry-run=server']);
      return bare.object?.metadata?.annotations?.['podpattern.dev/status'] !== undefined &&
        forbidden.code !== 0 &&
        optOut.code !== 0 &&
        doomed.code !== 0
        ? true
        : undefined;
    });
    const labels = await kube.json(['get', 'namespace', viaPolicies.r]);
    t.equal(labels.metadata.labels?.['podpattern.dev/policy'], undefined, 'no controller labels the namespace: the policies need no label');
  });

  await t.test('through the policies: the same stored pods and the same denials', async (t) => {
    for (const c of cases) {
      const webhook = recorded.get(c.label) as Result;
      const policies = await create(c, viaPolicies[c.team]);
      t.equal(
        policies.code === 0,
        webhook.code === 0,
        `${c.label}: admitted by both or by neither (webhook: ${webhook.code === 0 ? 'admitted' : denial(webhook.stderr)}; policies: ${policies.code === 0 ? 'admitted' : denial(policies.stderr)})`,
      );
      if (webhook.object !== undefined && policies.object !== undefined) {
        t.same(
          comparable(policies.object, viaPolicies[c.team]),
          comparable(webhook.object, viaWebhook[c.team]),
          `${c.label}: the stored pods are the same`,
        );
      } else if (webhook.code !== 0 && policies.code !== 0) {
        // The messages name the namespace (where a template is available, whose policy refuses).
        const words = (stderr: string, namespace: string): string => denial(stderr).split(namespace).join('$NAMESPACE');
        t.equal(words(policies.stderr, viaPolicies[c.team]), words(webhook.stderr, viaWebhook[c.team]), `${c.label}: the same denial`);
      }
    }
  });

  await t.test("through the policies: a widening and a second policy are refused at apply, in the webhook's words", (t) =>
    compareApplyRefusals(t, kube, {
      ...apply,
      recorded: recordedApply,
      compiled: compiledObjects,
      webhook: viaWebhook.a,
      policies: viaPolicies.a,
    }),
  );
  await t.test("A's narrowing is still in force", async (t) => {
    const stored = await kube.json(['get', 'patternpolicy', 'default', '-n', viaPolicies.a]);
    t.same(stored.spec.narrow, specA.narrow, "A's stored policy keeps its narrowing");
    const low = await kube.create(podManifest(kube.unique('narrow-low'), viaPolicies.a, proxy('8080')), ['--dry-run=server']);
    t.match(low.stderr, /'8080' must be at least 9000 \(narrowed by PatternPolicy .*\/default\)/);
  });

  await t.test('what webhook-less mode does differently, as docs/tenancy.md says', async (t) => {
    // A required template beside one the pod asks for: the webhook composes both, the policies refuse the pod.
    const refused = await kube.create(podManifest('both', viaPolicies.r, requestAnnotations(httpsProxy)));
    t.not(refused.code, 0, 'the policies refuse it, rather than store it without log-normalizer');
    t.match(
      refused.stderr,
      /cannot inject this pod without its webhook: PatternPolicy .*\/default requires log-normalizer and the pod asks for https-proxy/,
    );
    // A narrowing of a template the compiled policies do not know is stored: judging it needs
    // the whole catalog, which is the webhook's. It narrows nothing.
    const unknown = await kube.kubectl(
      ['replace', '-f', '-'],
      JSON.stringify(patternPolicy(viaPolicies.a, { ...specA, narrow: { ...specA.narrow, 'no-such-template': { port: { maximum: 1 } } } })),
    );
    t.equal(unknown.code, 0, outcome(unknown, 'a narrowing of a template no compiled policy knows is stored while the webhook is down'));
  });

  // Not a teardown: the groups after this one need the webhook back.
  await t.test('podpattern back to two replicas, the test objects gone', async (t) => {
    for (const namespace of [...Object.values(viaPolicies), viaWebhook.d])
      await kube.kubectl(['delete', 'patternpolicy', 'default', '-n', namespace, '--ignore-not-found']);
    if (compiledObjects.length > 0)
      await kube.kubectl(
        ['delete', '-f', '-', '--ignore-not-found'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: compiledObjects }),
      );
    await kube.kubectl(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=2']);
    await kube.webhookEndpoints(2);
    await kube.kubectl([
      'annotate',
      'patterntemplate',
      'git-sync',
      '--overwrite',
      'podpattern.dev/force-reason=the tenancy-policies tests are done',
    ]);
    await kube.kubectl(['delete', 'patterntemplate', 'git-sync', '--wait', '--ignore-not-found']);
    t.pass('restored');
  });
}
