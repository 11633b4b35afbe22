// The end-to-end suite, run once per leg (current.test.ts, oldest.test.ts): the chart installed
// with `helm install` into a real control plane, podpattern's pods run by the node agent and
// called by the API server through the chart's Service, and every test asserting what the API
// server stored or refused.
import type { Test } from 'tap';
import { startCluster, type Cluster } from './harness.js';
import { imageNodeVersion, releaseTests, missingImageTest } from './suite-release.js';
import { Kube, RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import {
  outcome,
  isUntouched,
  loadBuiltinCatalog,
  missingFromPod,
  podManifest,
  requestAnnotations,
  type Json,
  type TemplateInfo,
} from './pods.js';
import { controllerTests } from './suite-controllers.js';
import { catalogTests } from './suite-catalog.js';
import { admissionTests } from './suite-admission.js';
import { policyTests } from './suite-policy.js';
import { operateTests } from './suite-operate.js';
import { firstHourTests } from './suite-firsthour.js';
import { fitTests } from './suite-fit.js';
import { burstTests } from './suite-burst.js';
import { impactTests } from './suite-impact.js';
import { healTests } from './suite-heal.js';
import { rolloutTests } from './suite-rollout.js';
import { builtinTests } from './suite-builtins.js';
import { tenancyTests } from './suite-tenancy.js';
import { tenancyPolicyTests } from './suite-tenancy-policies.js';
import { canaryTests } from './suite-canary.js';

export interface Context {
  kube: Kube;
  cluster: Cluster;
  catalog: TemplateInfo[];
  pick(pattern: TemplateInfo['spec']['pattern'], preferred: string): TemplateInfo;
  namespaces: { enabled: string; required: string; plain: string };
}

export async function runLeg(t: Test, legName: string): Promise<void> {
  const started = Date.now();
  const cluster = await startCluster(legName);
  t.teardown(() => cluster.stop());
  const kubectlVersion = JSON.parse((await cluster.kubectl(['version', '--client', '-o', 'json'])).stdout) as Json;
  // What this leg installs and runs on, first: a failure report starts with it.
  const { release } = cluster;
  t.comment(`Node.js ${await imageNodeVersion(cluster)} in the image (the harness runs on ${process.version})`);
  t.comment(`image ${release.image}`);
  t.comment(`chart ${release.chart}:${release.version} (${release.chartDigest})`);
  t.comment(`Kubernetes ${cluster.serverVersion}`);
  t.comment(
    `leg ${cluster.leg.name}: kube-apiserver ${cluster.serverVersion}, kubectl ${kubectlVersion.clientVersion?.gitVersion}, released and up in ${Date.now() - started} ms (the image build included); files and logs in ${cluster.dir} (PODPATTERN_E2E_KEEP=1 keeps them)`,
  );
  const kube = new Kube(cluster);
  const catalog = await loadBuiltinCatalog();
  const ctx: Context = {
    kube,
    cluster,
    catalog,
    pick: (pattern, preferred) => {
      const found = catalog.find((tpl) => tpl.name === preferred) ?? catalog.find((tpl) => tpl.spec.pattern === pattern);
      if (found === undefined) throw new Error(`the built-in catalog has no ${pattern} template`);
      return found;
    },
    namespaces: { enabled: '', required: '', plain: '' },
  };

  t.test("the API server reports the leg's release", async (t) => {
    t.equal(cluster.serverVersion, cluster.leg.kubernetes);
  });

  await releaseTests(t, ctx);
  await missingImageTest(t, ctx);

  await t.test(
    'helm install of the released chart from the OCI registry: it installs and its webhook pods, run from the pulled image, become ready endpoints',
    async (t) => {
      const installed = await kube.helmInstall('install');
      t.equal(installed.code, 0, outcome(installed));
      const deployment = await kube.json(['get', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE]);
      t.equal(deployment.status?.readyReplicas, 2, 'both replicas are ready (readiness probes answered at their pod IPs)');
      const pods = await kube.webhookPods();
      t.equal(pods.length, 2, 'two podpattern pods');
      t.ok(
        pods.every((p) => p.spec.nodeName !== undefined),
        'placed by kube-scheduler',
      );
      t.same(
        pods.map((p) => p.spec.containers[0].image),
        [release.image, release.image],
        'the pods name the released image by its digest',
      );
      t.same(
        pods.map((p) => p.status.containerStatuses?.[0]?.imageID),
        [release.image, release.image],
        'and run it: the node agent pulled that digest',
      );
      const addresses = await kube.webhookEndpoints(2);
      t.same(addresses, pods.map((p) => p.status.podIP).sort(), "the Service's endpoints are the pods' IPs");
      const config = await kube.json(['get', 'mutatingwebhookconfiguration', RELEASE]);
      t.ok(
        config.webhooks.every((w: Json) => typeof w.clientConfig.caBundle === 'string' && w.clientConfig.service?.name === RELEASE),
        'both webhooks call the Service, with the chart-made caBundle',
      );
      t.ok(
        config.webhooks.every((w: Json) => Array.isArray(w.matchConditions) && w.matchConditions.length > 0),
        'the stored configuration keeps its matchConditions',
      );
      const policy = await kube.kubectl(['get', 'validatingadmissionpolicy', `${RELEASE}-required-injection`]);
      t.equal(policy.code, 0, outcome(policy, `the ValidatingAdmissionPolicy is stored`));
      ctx.namespaces.enabled = await kube.namespace('enabled');
      ctx.namespaces.required = await kube.namespace('required');
      ctx.namespaces.plain = await kube.namespace();
    },
  );

  t.test("an injected pod is admitted through the chart's Service, with the chart's CA", async (t) => {
    const template = ctx.pick('sidecar', 'https-proxy');
    const created = await kube.create(podManifest(kube.unique('smoke'), ctx.namespaces.enabled, requestAnnotations(template)));
    t.equal(created.code, 0, outcome(created));
    t.same(missingFromPod(created.object ?? {}, template), [], 'the stored pod carries the template');
  });

  // PODPATTERN_E2E_SUITES=admission,catalog (say) runs only those groups, between the install
  // and the uninstall, for a quicker loop while working on one of them; CI runs them all.
  const only = process.env.PODPATTERN_E2E_SUITES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const groups: Array<[string, (t: Test, ctx: Context) => Promise<void>]> = [
    ['admission', admissionTests],
    ['catalog', catalogTests],
    ['controllers', controllerTests],
    ['policy', policyTests],
    ['operate', operateTests],
    ['firsthour', firstHourTests],
    ['fit', fitTests],
    ['burst', burstTests],
    ['impact', impactTests],
    ['heal', healTests],
    ['rollout', rolloutTests],
    ['builtins', builtinTests],
    ['tenancy', tenancyTests],
    ['tenancy-policies', tenancyPolicyTests],
    ['canary', canaryTests],
    ['upgrade', upgradeTests],
  ];
  for (const [name, group] of groups) {
    if (only === undefined || only.includes(name)) await group(t, ctx);
    else t.comment(`${name} tests not run: PODPATTERN_E2E_SUITES=${only.join(',')}`);
  }

  await t.test('helm uninstall leaves nothing behind but the CRD and the namespace', async (t) => {
    const uninstalled = await kube.helm(['uninstall', RELEASE, '--namespace', RELEASE_NAMESPACE, '--wait', '--timeout', '3m']);
    t.equal(uninstalled.code, 0, outcome(uninstalled));
    const selector = `app.kubernetes.io/instance=${RELEASE}`;
    const clusterScoped = await kube.must([
      'get',
      'mutatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,clusterroles,clusterrolebindings',
      '-l',
      selector,
      '-o',
      'name',
    ]);
    t.equal(clusterScoped.trim(), '', 'no webhook configuration, policy or cluster RBAC is left');
    const namespaced = await kube.must([
      'get',
      'deployments,services,secrets,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps',
      '-n',
      RELEASE_NAMESPACE,
      '-l',
      selector,
      '-o',
      'name',
    ]);
    t.equal(namespaced.trim(), '', 'no namespaced object of the release is left');
    const gone = await eventually(
      "podpattern's pods to terminate",
      async () => ((await kube.webhookPods()).length === 0 ? true : undefined),
      120_000,
    );
    t.ok(gone, 'its pods are gone');
    t.equal(
      (await kube.kubectl(['get', 'crd', 'patterntemplates.podpattern.dev'])).code,
      0,
      'the CRD stays (helm.sh/resource-policy: keep), and with it every PatternTemplate',
    );
    // With the webhook gone, pods that ask for patterns are admitted untouched in enabled namespaces.
    const template = ctx.pick('sidecar', 'https-proxy');
    const created = await kube.create(podManifest(kube.unique('after-uninstall'), ctx.namespaces.enabled, requestAnnotations(template)));
    t.equal(created.code, 0, outcome(created));
    t.ok(isUntouched(created.object ?? {}), 'stored uninjected');
  });
}

async function upgradeTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  await t.test(
    'helm upgrade to the next release (a second build of the image, a new digest) rolls the pods onto it and keeps the certificates',
    async (t) => {
      const next = await ctx.cluster.publishNext({ 'dev.podpattern.e2e.build': 'upgrade' });
      t.not(next.digest, ctx.cluster.release.digest, `the second build is another image (${next.digest})`);
      const secretBefore = await kube.json(['get', 'secret', `${RELEASE}-tls`, '-n', RELEASE_NAMESPACE]);
      const bundleBefore = (await kube.json(['get', 'mutatingwebhookconfiguration', RELEASE])).webhooks[0].clientConfig.caBundle as string;
      const podsBefore = (await kube.webhookPods()).map((p) => p.metadata.name).sort();
      const upgraded = await kube.helmInstall('upgrade', ['server.logLevel=debug'], next);
      t.equal(upgraded.code, 0, outcome(upgraded));
      const secretAfter = await kube.json(['get', 'secret', `${RELEASE}-tls`, '-n', RELEASE_NAMESPACE]);
      const bundleAfter = (await kube.json(['get', 'mutatingwebhookconfiguration', RELEASE])).webhooks[0].clientConfig.caBundle as string;
      t.equal(secretAfter.data['tls.crt'], secretBefore.data['tls.crt'], 'the serving certificate is kept');
      t.equal(bundleAfter, bundleBefore, 'and so is the caBundle');
      const podsAfter = await eventually(
        'the rollout to replace both pods',
        async () => {
          const names = (await kube.webhookPods())
            .filter((p) => p.status?.conditions?.some((c: Json) => c.type === 'Ready' && c.status === 'True'))
            .map((p) => p.metadata.name)
            .sort();
          return names.length === 2 && names.every((n) => !podsBefore.includes(n)) ? names : undefined;
        },
        180_000,
      );
      t.equal(podsAfter.length, 2, 'two new pods are ready');
      const running = (await kube.webhookPods()).filter((p) => podsAfter.includes(p.metadata.name));
      t.same(
        running.map((p) => p.status.containerStatuses?.[0]?.imageID),
        [next.image, next.image],
        `the new pods run ${next.image}`,
      );
      t.same(
        running.map((p) => ctx.cluster.node.imageOf(p.metadata.namespace, p.metadata.name, 'podpattern')?.digest),
        [next.digest, next.digest],
        "from that digest's root filesystem",
      );
      await kube.webhookEndpoints(2);
      const template = ctx.pick('sidecar', 'https-proxy');
      const created = await kube.create(podManifest(kube.unique('after-upgrade'), ctx.namespaces.required, requestAnnotations(template)));
      t.equal(created.code, 0, outcome(created));
      t.same(missingFromPod(created.object ?? {}, template), [], 'the new pods inject with the kept certificate');
    },
  );
}
