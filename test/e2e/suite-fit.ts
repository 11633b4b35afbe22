// An injected pod fits the cluster it lands in: kubectl picks the app's container without -c,
// and a namespace's LimitRange that would refuse the injected pod is named in podpattern's own
// denial, before the API server's LimitRanger could refuse the pod after admission. A webhook
// called after podpattern that strips restartPolicy from native sidecars is named by
// `podpattern check --chain`, and the integrity guard refuses the pod it damaged in a required
// namespace, naming the field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, podManifest, requestAnnotations, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';
import { registerTestWebhook, startTestWebhook } from './test-webhook.js';

export async function fitTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;

  await t.test(
    "kubectl logs without -c asks for the app's container of an injected pod: podpattern set kubectl.kubernetes.io/default-container",
    async (t) => {
      // An adapter in a long-running pod is a second ordinary container, so kubectl would have to choose.
      const exporter = ctx.pick('adapter', 'redis-exporter');
      const name = kube.unique('logs');
      const created = await kube.create(podManifest(name, ctx.namespaces.enabled, requestAnnotations(exporter)));
      t.equal(created.code, 0, outcome(created));
      const stored = created.object ?? {};
      t.equal(
        stored.metadata?.annotations?.['kubectl.kubernetes.io/default-container'],
        'app',
        'the stored pod names its own container as the default',
      );
      t.same(
        stored.spec.containers.map((c: { name: string }) => c.name),
        ['app', exporter.spec.containers[0]?.name],
        'beside the injected one',
      );
      // The node agent runs only podpattern's image, so the app never starts and no log is read:
      // what is checked is the container kubectl asks the API server for, and that it did not
      // have to guess (kubectl says "Defaulted container … out of …" when it does).
      const logs = await kube.kubectl(['logs', name, '-n', ctx.namespaces.enabled, '-v=6']);
      t.match(
        logs.stderr,
        new RegExp(`/namespaces/${ctx.namespaces.enabled}/pods/${name}/log\\?container=app\\b`),
        'kubectl asked for the log of container app',
      );
      t.notMatch(logs.stderr, /Defaulted container/, 'without guessing among the containers');
    },
  );

  await t.test('a LimitRange that would refuse the injected pod: podpattern denies it, naming the LimitRange and the bound', async (t) => {
    const namespace = await kube.namespace('enabled');
    await kube.must(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'LimitRange',
        metadata: { name: 'small', namespace },
        spec: { limits: [{ type: 'Container', max: { cpu: '100m' } }] },
      }),
    );
    const exporter = ctx.pick('adapter', 'redis-exporter');
    // podpattern's informer sees the LimitRange within moments; until then the API server's own
    // LimitRanger refuses the pod in its words, which this waits past.
    const refused = await eventually(
      'podpattern to deny the pod naming the LimitRange',
      async () => {
        const result = await kube.create(podManifest(kube.unique('limited'), namespace, requestAnnotations(exporter)));
        if (result.code === 0) throw new Error(`the pod was admitted: ${JSON.stringify(result.object?.spec?.containers)}`);
        return /podpattern cannot inject this pod/.test(result.stderr) ? result : undefined;
      },
      120_000,
    );
    t.match(
      refused.stderr,
      new RegExp(
        `LimitRange ${namespace}/small \\(per container\\): template ${exporter.name}'s container '${exporter.spec.containers[0]?.name}' limits cpu to \\d+m, above the maximum 100m; the API server would refuse the pod`,
      ),
      refused.stderr,
    );
    t.notMatch(refused.stderr, /maximum cpu usage per Container/, "not the LimitRanger's refusal after admission");
    const plain = await kube.create(podManifest(kube.unique('unasked'), namespace));
    t.equal(plain.code, 0, `a pod that asks for nothing is admitted there (${outcome(plain)})`);
  });

  await t.test(
    'a webhook after podpattern strips restartPolicy from native sidecars: check --chain names it, and the integrity guard refuses the pod in a required namespace',
    async (t) => {
      const label = { 'e2e.podpattern.dev/strip-restart': 'yes' };
      const namespace = await kube.namespace('required', { labels: label });
      // As a webhook that rebuilds init containers from a schema without native sidecars would:
      // restartPolicy goes, and so do the probes the API server allows only on native sidecars
      // (with them left, its own validation would refuse the pod before any policy runs).
      const stripper = await startTestWebhook(ctx, 'strip-restart-webhook', (pod) =>
        ((pod.spec.initContainers ?? []) as Json[]).flatMap((c, i) =>
          c.restartPolicy === undefined
            ? []
            : [
                { op: 'remove', path: `/spec/initContainers/${i}/restartPolicy` },
                ...['startupProbe', 'readinessProbe', 'livenessProbe']
                  .filter((probe) => c[probe] !== undefined)
                  .map((probe) => ({ op: 'remove', path: `/spec/initContainers/${i}/${probe}` })),
              ],
        ),
      );
      t.teardown(stripper.stop);
      await registerTestWebhook(t, ctx, stripper, {
        name: 'strip-restart',
        namespaceLabels: label,
        // podpattern, reinvoked after the strip, puts its sidecar back whole; reinvoked in turn,
        // this strips it again, and the pod reaches validation damaged.
        reinvocationPolicy: 'IfNeeded',
        timeoutSeconds: 5,
      });
      const proxy = ctx.pick('sidecar', 'https-proxy');
      const sidecar = proxy.spec.containers[0]?.name as string;
      // The API server takes up a new configuration within moments: until the stripper is called, the pod is admitted whole.
      const refused = await eventually(
        'the integrity guard to refuse the pod the stripper damaged',
        async () => {
          const result = await kube.create(podManifest(kube.unique('stripped'), namespace, requestAnnotations(proxy)));
          if (result.code === 0) return undefined;
          return result;
        },
        120_000,
      );
      t.ok(stripper.calls() > 0, 'the stripping webhook was called');
      t.match(refused.stderr, /ValidatingAdmissionPolicy '[^']*injected-integrity'/, 'refused by the integrity guard');
      t.match(refused.stderr, new RegExp(`changed field restartPolicy of the native sidecar\\(s\\) ${sidecar} `), refused.stderr);

      const file = join(mkdtempSync(join(tmpdir(), 'podpattern-chain-')), 'pod.yaml');
      writeFileSync(file, JSON.stringify(podManifest(kube.unique('chain'), namespace, requestAnnotations(proxy))));
      const checked = await podpattern(ctx, ['check', '--chain', '-n', namespace, '-f', file]);
      t.equal(checked.code, 1, checked.stdout + checked.stderr);
      t.match(
        checked.stdout,
        /chain Pod\/\S+: \d+\. mutating webhook \S*injection-required\.podpattern\.dev: timeout \d+s, failurePolicy Fail, reinvocationPolicy IfNeeded, Service \S+ with [1-9]\d* ready endpoint\(s\)/,
        "podpattern's webhook, with its endpoints",
      );
      t.match(
        checked.stdout,
        /chain Pod\/\S+: \d+\. mutating webhook zz-e2e-strip-restart\/strip-restart\.e2e\.podpattern\.dev: timeout 5s, failurePolicy Fail, reinvocationPolicy IfNeeded, calls https:/,
        'the stripping webhook, after it',
      );
      t.match(
        checked.stdout,
        /the API server refuses the pod \(server-side dry run\): .*changed field restartPolicy/,
        'the dry run meets the integrity guard',
      );
    },
  );
}
