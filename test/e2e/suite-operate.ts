// Operating podpattern: `helm test` (podpattern probe in podpattern's own image), `podpattern
// check` all ok and then each part broken on purpose and reported with its fix, `podpattern
// status` finding an outdated and a non-injected pod, and the Events of injections and denials.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { generateCertificates } from '../../src/certs/generate.js';
import { REPO_ROOT } from './harness.js';
import { RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import { outcome, podManifest, type Json } from './pods.js';
import type { Context } from './suite.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI, as a user runs it, against the leg's cluster. */
export function podpattern(ctx: Context, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'dist/src/bin/podpattern.js'), ...args, '--kubeconfig', ctx.cluster.kubeconfig],
      { timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
      },
    );
  });
}

function template(name: string, image: string, args: string[] = []): string {
  return JSON.stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name },
    spec: { pattern: 'adapter', description: 'For the operate tests.', containers: [{ name, image, args }] },
  });
}

function deployment(name: string, namespace: string, annotations: Record<string, string>): string {
  const labels = { app: name };
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels, annotations }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] } },
    },
  });
}

export async function operateTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const ns = ctx.namespaces.enabled;

  await t.test('helm test: the probe pod sends a dry-run pod through the webhook and passes', async (t) => {
    const tested = await kube.helm(['test', RELEASE, '--namespace', RELEASE_NAMESPACE, '--timeout', '3m']);
    t.equal(tested.code, 0, outcome(tested));
    t.match(tested.stdout, /TEST SUITE:\s+podpattern-probe[\s\S]*Phase:\s+Succeeded/);
    // The probe exits non-zero unless the dry-run pod came back injected (Phase: Succeeded says it
    // exited 0); its namespace and everything in it are test hooks, deleted once the test passed.
    const gone = await eventually(
      "helm test's namespace to be deleted",
      async () => {
        const namespace = await kube.kubectl(['get', 'namespace', 'podpattern-test', '-o', 'jsonpath={.status.phase}']);
        return namespace.code !== 0 || namespace.stdout === 'Terminating' ? true : undefined;
      },
      120_000,
    );
    t.ok(gone, 'the test hooks are removed after the test');
  });

  await t.test('podpattern check: every check ok on a healthy install', async (t) => {
    const checked = await podpattern(ctx, ['check', '-n', ns]);
    t.equal(checked.code, 0, checked.stdout + checked.stderr);
    t.notMatch(checked.stdout, /FAIL|\[warn\]/);
    for (const check of ['Kubernetes API', 'webhook configuration', 'endpoints', 'caBundle', 'CRD', `namespace ${ns}`])
      t.match(checked.stdout, new RegExp(`^\\[ok\\]   ${check}: `, 'm'), check);
    t.match(checked.stdout, /\nall checks passed\n$/);
  });

  await t.test('check: a namespace without its label, with the fix', async (t) => {
    await kube.must(['label', 'namespace', ns, 'podpattern.dev/injection-']);
    t.teardown(() => kube.must(['label', 'namespace', ns, 'podpattern.dev/injection=enabled']));
    const checked = await podpattern(ctx, ['check', '-n', ns]);
    t.equal(checked.code, 1);
    t.match(
      checked.stdout,
      new RegExp(
        `^\\[FAIL\\] namespace ${ns}: not labelled podpattern.dev/injection.*\\n {7}fix: kubectl label namespace ${ns} podpattern.dev/injection=enabled`,
        'm',
      ),
    );
  });

  await t.test('check: a wrong caBundle, with the fix', async (t) => {
    const before = (await kube.json(['get', 'mutatingwebhookconfiguration', RELEASE])).webhooks as Json[];
    const other = Buffer.from((await generateCertificates({ service: RELEASE, namespace: RELEASE_NAMESPACE })).caCertPem).toString(
      'base64',
    );
    const patch = (bundles: string[]) =>
      JSON.stringify(bundles.map((value, i) => ({ op: 'replace', path: `/webhooks/${i}/clientConfig/caBundle`, value })));
    await kube.must(['patch', 'mutatingwebhookconfiguration', RELEASE, '--type=json', '-p', patch(before.map(() => other))]);
    t.teardown(() =>
      kube.must(['patch', 'mutatingwebhookconfiguration', RELEASE, '--type=json', '-p', patch(before.map((w) => w.clientConfig.caBundle))]),
    );
    const checked = await podpattern(ctx, ['check']);
    t.equal(checked.code, 1);
    t.match(
      checked.stdout,
      /^\[FAIL\] caBundle: .*no CA in the caBundle .* signed the serving certificate.*\n {7}fix: put the CA that signed Secret podpattern\/podpattern-tls into the caBundle/m,
    );
  });

  // An outdated pod first (a Deployment injected with a template's first version, then a second
  // version), then podpattern scaled to 0: check reports it, a pod created meanwhile is admitted
  // uninjected (fail open) and a template written meanwhile escapes podpattern's template review
  // (which fails open too), so it is invalid once podpattern is back.
  await t.test(
    'status finds an outdated pod; check reports the Deployment scaled to 0 and a template made invalid, each with its fix; status finds the pod that went uninjected',
    async (t) => {
      await kube.must(['apply', '-f', '-'], template('ops-check', 'registry.example/check:1'));
      t.teardown(async () => {
        // Its Deployment's pods may still be terminating: a delete that names them is forced.
        await kube.kubectl([
          'annotate',
          'patterntemplates.podpattern.dev',
          'ops-check',
          '--overwrite',
          'podpattern.dev/force-reason=the operate tests remove it',
        ]);
        await kube.must(['delete', 'patterntemplates.podpattern.dev', 'ops-check', '--ignore-not-found']);
      });
      const ready = async () =>
        ((await kube.json(['get', 'patterntemplates.podpattern.dev', 'ops-check'])).status?.conditions as Json[] | undefined)?.find(
          (c) => c.type === 'Ready',
        );
      await eventually('ops-check Ready', async () => ((await ready())?.status === 'True' ? true : undefined), 60_000);
      await kube.must(['apply', '-f', '-'], deployment('checked', ns, { 'podpattern.dev/adapter': 'ops-check' }));
      t.teardown(() => kube.must(['delete', 'deployment', 'checked', '-n', ns, '--ignore-not-found']));
      const first = await eventually(
        "the Deployment's pod, injected",
        async () => {
          const pods = await kube.pods(ns, 'app=checked');
          return pods.find((p) => p.metadata.annotations?.['podpattern.dev/status'] !== undefined);
        },
        120_000,
      );
      await kube.must(['apply', '-f', '-'], template('ops-check', 'registry.example/check:2'));
      const dryRun = async () =>
        (await kube.create(podManifest(kube.unique('probe'), ns, { 'podpattern.dev/adapter': 'ops-check' }), ['--dry-run=server'])).object;
      await eventually(
        "version 2 in the webhook's catalog",
        async () => ((await dryRun())?.spec.containers.some((c: Json) => c.image === 'registry.example/check:2') ? true : undefined),
        60_000,
      );
      const outdated = await podpattern(ctx, ['status', '-n', ns]);
      t.equal(outdated.code, 1, outdated.stdout + outdated.stderr);
      t.match(
        outdated.stdout,
        new RegExp(
          `^outdated: Deployment ${ns}/checked \\(1 pod: ${first.metadata.name}\\) runs ops-check \\S+ -> \\S+ \\(changed: containers\\[ops-check\\]\\.image\\); roll: kubectl -n ${ns} rollout restart deployment/checked$`,
          'm',
        ),
      );
      t.match(outdated.stdout, /^ops-check\s+\S+\s+outdated\s+1$/m);

      await kube.must(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=0']);
      let restored = false;
      const restore = async () => {
        if (restored) return;
        restored = true;
        await kube.must(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=2']);
        await kube.webhookEndpoints(2);
      };
      t.teardown(restore);
      await kube.webhookEndpoints(0);
      // Gone, not only terminating: a draining replica still answers (and would review the template).
      await eventually(
        "podpattern's pods to be gone",
        async () => ((await kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern')).length === 0 ? true : undefined),
        120_000,
      );
      const down = await podpattern(ctx, ['check']);
      t.equal(down.code, 1);
      t.match(
        down.stdout,
        /^\[FAIL\] endpoints: Service podpattern\/podpattern has no ready endpoint.*\n {7}fix: kubectl -n podpattern scale deployment\/podpattern --replicas=2$/m,
      );
      const uninjected = kube.unique('uninjected');
      const created = await kube.create(podManifest(uninjected, ns, { 'podpattern.dev/adapter': 'redis-exporter' }));
      t.equal(created.code, 0, outcome(created, 'fail open: admitted'));
      // Accepted by the CRD, refused by the catalog: an argument names an undeclared parameter.
      await kube.must(['apply', '-f', '-'], template('ops-check', 'registry.example/check:3', ['$(params.nope)']));
      await restore();
      await eventually('ops-check Ready=False', async () => ((await ready())?.status === 'False' ? true : undefined), 60_000);
      const invalid = await podpattern(ctx, ['check']);
      t.equal(invalid.code, 1);
      t.match(invalid.stdout, /^\[FAIL\] templates: ops-check is not Ready: .*\$\(params\.nope\).*\n {7}fix: kubectl edit ptpl ops-check/m);
      t.match(invalid.stdout, /^\[ok\] {3}endpoints: /m, 'the endpoints are back');
      const missed = await podpattern(ctx, ['status', '-n', ns]);
      t.match(
        missed.stdout,
        new RegExp(
          `^not injected: pod ${ns}/${uninjected} asks for podpattern.dev/adapter=redis-exporter but has no podpattern.dev/status`,
          'm',
        ),
      );
    },
  );

  await t.test('Events: injections and denials are listed by kubectl get events, on the owner or the namespace', async (t) => {
    // Denials are rate-limited per namespace and reason: a namespace of its own, so an earlier
    // group's denial of the same kind in the shared namespace cannot stand in for this one.
    const fresh = await kube.namespace('enabled');
    const denied = await kube.create(podManifest(kube.unique('denied'), fresh, { 'podpattern.dev/adapter': 'no-such-template' }));
    t.not(denied.code, 0, 'denied');
    const events = await eventually(
      'the Injected and Denied Events',
      async () => {
        const items = (await kube.json(['get', 'events', '-n', ns])).items as Json[];
        const injected = items.find(
          (e) => e.reason === 'Injected' && e.involvedObject.kind === 'ReplicaSet' && e.involvedObject.name.startsWith('checked-'),
        );
        const refused = ((await kube.json(['get', 'events', '-n', fresh])).items as Json[]).find(
          (e) => e.reason === 'Denied' && e.involvedObject.kind === 'Namespace',
        );
        return injected !== undefined && refused !== undefined ? { injected, refused } : undefined;
      },
      60_000,
    );
    t.match(events.injected, {
      type: 'Normal',
      source: { component: 'podpattern' },
      message: /^podpattern injected ops-check\npod "checked-\S+"$/,
    });
    t.match(events.refused, {
      type: 'Warning',
      involvedObject: { name: fresh },
      message: /^podpattern denied a pod \(unknown-template\): [^\n]*no template named 'no-such-template'[^\n]*\npod "denied-\d+"/,
    });
    const printed = await kube.must(['get', 'events', '-n', fresh, '--field-selector', 'reason=Denied']);
    t.match(printed, /Denied/);
    const dryRuns = ((await kube.json(['get', 'events', '-n', 'podpattern-test'])).items as Json[]).filter(
      (e) => e.source?.component === 'podpattern',
    );
    t.same(dryRuns, [], 'the dry-run reviews of helm test and check left no Event');
  });
}
