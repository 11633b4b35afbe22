// What the API server stores or refuses for single pods: every built-in, composition, denials,
// matchConditions, native sidecars, dry runs, reinvocation by another webhook, and what happens
// in each namespace mode when podpattern is down.
import type { Test } from 'tap';
import { RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import { outcome, isUntouched, missingFromPod, podManifest, requestAnnotations, type Json } from './pods.js';
import type { Context } from './suite.js';
import { registerTestWebhook, startTestWebhook, type TestWebhook } from './test-webhook.js';

const names = (list: Json[] | undefined): string[] => (list ?? []).map((c) => c.name as string);

export async function admissionTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;

  await t.test('every built-in template is injected and stored', async (t) => {
    for (const template of ctx.catalog) {
      const created = await kube.create(podManifest(kube.unique(template.name), ctx.namespaces.enabled, requestAnnotations(template)));
      t.equal(created.code, 0, outcome(created, `${template.name}`));
      t.same(
        missingFromPod(created.object ?? {}, template),
        [],
        `${template.name}: the stored pod has every container, volume and annotation of the template`,
      );
    }
  });

  await t.test('a sidecar, an ambassador and an adapter compose in one pod', async (t) => {
    const chosen = [ctx.pick('sidecar', 'https-proxy'), ctx.pick('ambassador', 'redis-shard'), ctx.pick('adapter', 'redis-exporter')];
    const annotations = Object.assign({}, ...chosen.map(requestAnnotations)) as Record<string, string>;
    const created = await kube.create(podManifest(kube.unique('composed'), ctx.namespaces.enabled, annotations));
    t.equal(created.code, 0, outcome(created));
    for (const template of chosen) t.same(missingFromPod(created.object ?? {}, template), [], `${template.name} is in the stored pod`);
  });

  await t.test("denials: an unknown template and a bad parameter are refused with podpattern's message", async (t) => {
    const unknown = await kube.create(
      podManifest(kube.unique('unknown'), ctx.namespaces.enabled, { 'podpattern.dev/sidecar': 'no-such-template' }),
    );
    t.not(unknown.code, 0, 'kubectl create fails');
    t.match(unknown.stderr, /denied the request/);
    t.match(unknown.stderr, /no template named 'no-such-template'/);
    const bounded = ctx.catalog
      .flatMap((tpl) => Object.entries(tpl.spec.parameters).map(([param, spec]) => ({ tpl, param, spec })))
      .find(({ spec }) => spec.maximum !== undefined);
    if (bounded === undefined) throw new Error('no built-in parameter has a maximum');
    const value = String((bounded.spec.maximum as number) + 1);
    const bad = await kube.create(
      podManifest(kube.unique('bad-param'), ctx.namespaces.enabled, {
        ...requestAnnotations(bounded.tpl),
        [`${bounded.tpl.name}.podpattern.dev/${bounded.param}`]: value,
      }),
    );
    t.not(bad.code, 0, `${bounded.tpl.name}/${bounded.param}=${value} is refused`);
    t.match(bad.stderr, /denied the request/);
    t.match(bad.stderr, bounded.param);
  });

  await t.test('a misspelt podpattern key reaches the webhook and is denied with a suggestion', async (t) => {
    const reviews = await kube.metric('podpattern_reviews_total');
    const typo = await kube.create(podManifest(kube.unique('typo'), ctx.namespaces.enabled, { 'podpattern.dev/sidcar': 'https-proxy' }));
    t.not(typo.code, 0, 'refused rather than silently ignored');
    t.match(typo.stderr, /podpattern\.dev\/sidcar/);
    t.match(typo.stderr, /did you mean podpattern\.dev\/sidecar\?/);
    t.equal(await kube.metric('podpattern_reviews_total'), reviews + 1, 'matchConditions sent it to podpattern');
  });

  await t.test("namespace defaults apply under the chart's default values in namespaces labelled for them", async (t) => {
    const defaults = { 'podpattern.dev/adapter': 'redis-exporter', 'redis-exporter.podpattern.dev/redis-port': '6380' };
    const labelled = await kube.namespace('enabled', { labels: { 'podpattern.dev/defaults': 'enabled' }, annotations: defaults });
    const exported = (pod: Json | undefined): boolean => names(pod?.spec?.containers).includes('redis-exporter');
    // podpattern learns namespaces through a watch: wait until a dry run shows the default.
    await eventually('podpattern to see the namespace', async () => {
      const dry = await kube.create(podManifest(kube.unique('defaults-dry'), labelled), ['--dry-run=server']);
      return exported(dry.object) ? true : undefined;
    });
    const pod = await kube.create(podManifest(kube.unique('defaulted'), labelled));
    t.equal(pod.code, 0, outcome(pod));
    t.ok(exported(pod.object), "a pod that names no template gets the namespace's adapter");
    t.match(pod.object?.metadata.annotations['podpattern.dev/status'], /redis-exporter/, 'recorded in its status');
    t.ok(JSON.stringify(pod.object?.spec.containers).includes('6380'), "with the namespace's parameter");
    const optedOut = await kube.create(podManifest(kube.unique('defaults-opt-out'), labelled, { 'podpattern.dev/inject': 'false' }));
    t.notOk(exported(optedOut.object), 'a pod can still opt out');
    const unlabelled = await kube.namespace('enabled', { annotations: defaults });
    const plain = await kube.create(podManifest(kube.unique('no-defaults-label'), unlabelled));
    t.equal(plain.code, 0, outcome(plain));
    t.ok(isUntouched(plain.object ?? {}), 'without the defaults label, pods that ask for nothing never reach podpattern');
  });

  await t.test('pods in unlabelled namespaces, and pods that opt out, are stored unchanged', async (t) => {
    const template = ctx.pick('sidecar', 'https-proxy');
    const unlabelled = await kube.create(podManifest(kube.unique('unlabelled'), ctx.namespaces.plain, requestAnnotations(template)));
    t.equal(unlabelled.code, 0, outcome(unlabelled));
    t.ok(isUntouched(unlabelled.object ?? {}), 'not injected outside opted-in namespaces');
    const optedOut = await kube.create(
      podManifest(kube.unique('opted-out'), ctx.namespaces.enabled, { ...requestAnnotations(template), 'podpattern.dev/inject': 'false' }),
    );
    t.equal(optedOut.code, 0, outcome(optedOut));
    t.ok(isUntouched(optedOut.object ?? {}), 'podpattern.dev/inject: "false" opts out');
  });

  await t.test('matchConditions: pods without podpattern annotations never reach the webhook, pods with them always do', async (t) => {
    const template = ctx.pick('sidecar', 'https-proxy');
    const reviews = (): Promise<number> => kube.metric('podpattern_reviews_total');
    const before = await reviews();
    for (let i = 0; i < 5; i += 1) {
      const created = await kube.create(
        podManifest(kube.unique('no-annotations'), ctx.namespaces.enabled, { 'example.org/owner': 'team-a' }),
      );
      t.equal(created.code, 0, outcome(created));
    }
    t.equal(await reviews(), before, 'five pods without podpattern annotations: no review reached podpattern');
    const injected = (): Promise<number> => kube.metric('podpattern_reviews_total', { outcome: 'injected' });
    const injectedBefore = await injected();
    for (let i = 0; i < 5; i += 1) {
      const created = await kube.create(podManifest(kube.unique('annotated'), ctx.namespaces.enabled, requestAnnotations(template)));
      t.equal(created.code, 0, outcome(created));
    }
    t.equal(await injected(), injectedBefore + 5, 'five pods that ask: each reached podpattern and was injected');
    // After a webhook's patch the API server runs its own mutating plugins again; the injected
    // containers already carry the token mount the ServiceAccount plugin would add, so nothing
    // changes and podpattern (reinvocationPolicy: IfNeeded) is not called a second time.
    t.equal(await reviews(), before + 5, 'and no more: one review per pod, no reinvocation');
  });

  await t.test(
    "native sidecars: with --native-sidecars=auto, sidecars are stored as restartPolicy: Always init containers after the pod's own",
    async (t) => {
      const template = ctx.pick('sidecar', 'https-proxy');
      const pod = podManifest(kube.unique('native'), ctx.namespaces.enabled, requestAnnotations(template));
      pod.spec.initContainers = [
        { name: 'migrate', image: 'registry.example/migrate:1.0' },
        { name: 'mesh-proxy', image: 'registry.example/proxy:1.0', restartPolicy: 'Always' },
      ];
      const created = await kube.create(pod);
      t.equal(created.code, 0, outcome(created));
      const stored = created.object ?? {};
      const sidecars = names(template.spec.containers);
      t.same(
        names(stored.spec.initContainers),
        ['migrate', 'mesh-proxy', ...sidecars],
        "the pod's own init containers and native sidecars first, in their order, then the injected ones",
      );
      for (const name of sidecars) {
        t.equal(
          stored.spec.initContainers.find((c: Json) => c.name === name)?.restartPolicy,
          'Always',
          `${name} is a native sidecar (Kubernetes ${ctx.cluster.leg.kubernetes} >= 1.29, the version podpattern read from the API server)`,
        );
      }
      t.same(names(stored.spec.containers), ['app'], 'the app is the only regular container, so it starts after the sidecars');
      const status = JSON.parse(stored.metadata.annotations['podpattern.dev/status']) as Json;
      t.same(status.initContainers, sidecars, 'the status records them as init containers');
    },
  );

  await t.test('Pod Security "restricted": injected containers pass it', async (t) => {
    const namespace = await kube.namespace('enabled', { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });
    const template = ctx.pick('sidecar', 'https-proxy');
    const pod = podManifest(kube.unique('restricted'), namespace, requestAnnotations(template));
    pod.spec.securityContext = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
    pod.spec.containers[0].securityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsUser: 1000 };
    const created = await kube.create(pod);
    t.equal(created.code, 0, outcome(created, `a restricted app with ${template.name} is admitted`));
    t.same(missingFromPod(created.object ?? {}, template), []);
  });

  await t.test('kubectl create --dry-run=server shows the injected pod; podpattern records no side effect', async (t) => {
    const template = ctx.pick('sidecar', 'https-proxy');
    const name = kube.unique('dry-run');
    const injectedBefore = await kube.metric('podpattern_injections_total');
    const dryBefore = await kube.metric('podpattern_reviews_total', { dry_run: 'true', outcome: 'injected' });
    const result = await kube.create(podManifest(name, ctx.namespaces.enabled, requestAnnotations(template)), ['--dry-run=server']);
    t.equal(result.code, 0, outcome(result));
    t.same(missingFromPod(result.object ?? {}, template), [], 'the dry-run answer is injected');
    t.not((await kube.kubectl(['get', 'pod', name, '-n', ctx.namespaces.enabled])).code, 0, 'nothing is stored');
    t.equal(await kube.metric('podpattern_injections_total'), injectedBefore, 'no injection is counted');
    t.equal(
      await kube.metric('podpattern_reviews_total', { dry_run: 'true', outcome: 'injected' }),
      dryBefore + 1,
      'the review is counted as a dry run',
    );
    const line = await eventually("the dry run's log line", async () =>
      (await kube.webhookLogs()).split('\n').find((l) => l.includes(`"pod":"${name}"`)),
    );
    t.match(JSON.parse(line) as Json, { dryRun: true }, 'its log line says dryRun');
  });

  await t.test('reinvocation: another webhook adds a container after podpattern; nothing is injected twice', (t) =>
    reinvocationTest(t, ctx),
  );

  await t.test(
    'podpattern down: enabled namespaces fail open, required ones fail closed, and the policy refuses what slips past',
    async (t) => {
      const template = ctx.pick('sidecar', 'https-proxy');
      await kube.must(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=0']);
      await kube.webhookEndpoints(0);
      // A terminating replica keeps answering while it drains (preStop, then --drain-seconds):
      // podpattern is down once its pods are gone.
      await eventually(
        "podpattern's pods to finish draining",
        async () =>
          (await kube.webhookPods()).length === 0 && (await kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern')).length === 0
            ? true
            : undefined,
        120_000,
      );
      const open = await kube.create(podManifest(kube.unique('fail-open'), ctx.namespaces.enabled, requestAnnotations(template)));
      t.equal(open.code, 0, outcome(open, `an enabled namespace admits the pod`));
      t.ok(isUntouched(open.object ?? {}), 'uninjected');
      const closed = await kube.create(podManifest(kube.unique('fail-closed'), ctx.namespaces.required, requestAnnotations(template)));
      t.not(closed.code, 0, 'a required namespace refuses it');
      t.match(closed.stderr, /failed calling webhook/);

      // With the webhook configuration gone as well (a half-removed install), the
      // ValidatingAdmissionPolicy still keeps un-injected pods out of required namespaces.
      await kube.must(['delete', 'mutatingwebhookconfiguration', RELEASE]);
      const refused = await eventually('the policy to refuse', async () => {
        const attempt = await kube.create(podManifest(kube.unique('policy'), ctx.namespaces.required, requestAnnotations(template)));
        return attempt.code !== 0 ? attempt : undefined;
      });
      t.match(refused.stderr, /ValidatingAdmissionPolicy '[^']*required-injection'/, 'refused by the policy');
      t.match(refused.stderr, /did not inject them/, 'with its message');
      // A status podpattern did not write (it names containers the pod does not have) is no proof.
      const forgedStatus = JSON.stringify({
        templates: [{ name: template.name, pattern: 'sidecar', hash: '0000000000000000' }],
        containers: [],
        initContainers: template.spec.containers.map((c) => c.name),
        volumes: [],
        annotations: [],
        appEnv: [],
        appVolumeMounts: [],
      });
      const forged = await kube.create(
        podManifest(kube.unique('policy-forged'), ctx.namespaces.required, {
          ...requestAnnotations(template),
          'podpattern.dev/status': forgedStatus,
        }),
      );
      t.not(forged.code, 0, 'a pod with a forged status is refused');
      t.match(forged.stderr, /names containers the pod does not have/, "by the policy's status check");
      const optOut = await kube.create(
        podManifest(kube.unique('policy-opt-out'), ctx.namespaces.required, {
          ...requestAnnotations(template),
          'podpattern.dev/inject': 'false',
        }),
      );
      t.equal(optOut.code, 0, outcome(optOut, `a pod that opts out is admitted`));
      const plain = await kube.create(podManifest(kube.unique('policy-plain'), ctx.namespaces.required));
      t.equal(plain.code, 0, outcome(plain, `a pod that asks for nothing is admitted`));

      // helm upgrade puts the webhook configuration and the replicas back.
      const restored = await kube.helmInstall('upgrade');
      t.equal(restored.code, 0, outcome(restored));
      await kube.webhookEndpoints(2);
      const back = await kube.create(podManifest(kube.unique('required-back'), ctx.namespaces.required, requestAnnotations(template)));
      t.equal(back.code, 0, outcome(back, `with podpattern running the required namespace admits it`));
      t.same(missingFromPod(back.object ?? {}, template), [], 'injected');
      const forgedBack = await kube.create(
        podManifest(kube.unique('forged-back'), ctx.namespaces.required, {
          ...requestAnnotations(template),
          'podpattern.dev/status': forgedStatus,
        }),
      );
      t.equal(forgedBack.code, 0, outcome(forgedBack, 'with podpattern running, a forged status is no reason to skip'));
      t.same(missingFromPod(forgedBack.object ?? {}, template), [], 'the pod is injected');
    },
  );
}

/** A second mutating webhook for the reinvocation test: adds a `mesh-agent` container once. */
function startAddingWebhook(ctx: Context): Promise<TestWebhook> {
  return startTestWebhook(ctx, 'mesh-agent-webhook', (pod) => {
    const has = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])].some((c: Json) => c.name === 'mesh-agent');
    return has ? [] : [{ op: 'add', path: '/spec/containers/-', value: { name: 'mesh-agent', image: 'registry.example/mesh-agent:1.0' } }];
  });
}

/** Another webhook, called after podpattern, adds a container: podpattern is reinvoked and injects nothing twice. */
async function reinvocationTest(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const namespace = await kube.namespace('enabled', { labels: { 'e2e.podpattern.dev/second-webhook': 'yes' } });
  const adder = await startAddingWebhook(ctx);
  t.teardown(adder.stop);
  await registerTestWebhook(t, ctx, adder, {
    name: 'mesh-agent',
    namespaceLabels: { 'e2e.podpattern.dev/second-webhook': 'yes' },
    reinvocationPolicy: 'Never',
  });
  const template = ctx.pick('sidecar', 'https-proxy');
  const name = kube.unique('reinvoked');
  const reviewsBefore = await kube.metric('podpattern_reviews_total');
  const created = await kube.create(podManifest(name, namespace, requestAnnotations(template)));
  t.equal(created.code, 0, outcome(created));
  const stored = created.object ?? {};
  const all = [...names(stored.spec.initContainers), ...names(stored.spec.containers)];
  t.ok(all.includes('mesh-agent'), "the other webhook's container is there");
  for (const container of names(template.spec.containers))
    t.equal(all.filter((n) => n === container).length, 1, `${container} is injected once`);
  const status = JSON.parse(stored.metadata.annotations['podpattern.dev/status']) as Json;
  t.same(
    status.templates.map((tpl: Json) => tpl.name),
    [template.name],
    'the status names the template once',
  );
  t.notOk(JSON.stringify(status).includes('mesh-agent'), "and claims nothing of the other webhook's");
  t.equal(
    await kube.metric('podpattern_reviews_total'),
    reviewsBefore + 2,
    'podpattern was called twice: once, then reinvoked after the other webhook changed the pod',
  );
  t.equal(adder.calls(), 1, 'the other webhook was called once');
}
