// An injected pod fits the cluster it lands in: kubectl picks the app's container without -c,
// and a namespace's LimitRange that would refuse the injected pod is named in podpattern's own
// denial, before the API server's LimitRanger could refuse the pod after admission.
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, podManifest, requestAnnotations } from './pods.js';
import type { Context } from './suite.js';

export async function fitTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;

  await t.test('kubectl logs without -c asks for the app\'s container of an injected pod: podpattern set kubectl.kubernetes.io/default-container', async (t) => {
    // An adapter in a long-running pod is a second ordinary container, so kubectl would have to choose.
    const exporter = ctx.pick('adapter', 'redis-exporter');
    const name = kube.unique('logs');
    const created = await kube.create(podManifest(name, ctx.namespaces.enabled, requestAnnotations(exporter)));
    t.equal(created.code, 0, outcome(created));
    const stored = created.object ?? {};
    t.equal(stored.metadata?.annotations?.['kubectl.kubernetes.io/default-container'], 'app', 'the stored pod names its own container as the default');
    t.same(stored.spec.containers.map((c: { name: string }) => c.name), ['app', exporter.spec.containers[0]?.name], 'beside the injected one');
    // The node agent runs only podpattern's image, so the app never starts and no log is read:
    // what is checked is the container kubectl asks the API server for, and that it did not
    // have to guess (kubectl says "Defaulted container … out of …" when it does).
    const logs = await kube.kubectl(['logs', name, '-n', ctx.namespaces.enabled, '-v=6']);
    t.match(logs.stderr, new RegExp(`/namespaces/${ctx.namespaces.enabled}/pods/${name}/log\\?container=app\\b`), 'kubectl asked for the log of container app');
    t.notMatch(logs.stderr, /Defaulted container/, 'without guessing among the containers');
  });

  await t.test('a LimitRange that would refuse the injected pod: podpattern denies it, naming the LimitRange and the bound', async (t) => {
    const namespace = await kube.namespace('enabled');
    await kube.must(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'small', namespace },
      spec: { limits: [{ type: 'Container', max: { cpu: '100m' } }] },
    }));
    const exporter = ctx.pick('adapter', 'redis-exporter');
    // podpattern's informer sees the LimitRange within moments; until then the API server's own
    // LimitRanger refuses the pod in its words, which this waits past.
    const refused = await eventually('podpattern to deny the pod naming the LimitRange', async () => {
      const result = await kube.create(podManifest(kube.unique('limited'), namespace, requestAnnotations(exporter)));
      if (result.code === 0) throw new Error(`the pod was admitted: ${JSON.stringify(result.object?.spec?.containers)}`);
      return /podpattern cannot inject this pod/.test(result.stderr) ? result : undefined;
    }, 120_000);
    t.match(refused.stderr, new RegExp(`LimitRange ${namespace}/small \\(per container\\): template ${exporter.name}'s container '${exporter.spec.containers[0]?.name}' limits cpu to \\d+m, above the maximum 100m; the API server would refuse the pod`), refused.stderr);
    t.notMatch(refused.stderr, /maximum cpu usage per Container/, "not the LimitRanger's refusal after admission");
    const plain = await kube.create(podManifest(kube.unique('unasked'), namespace));
    t.equal(plain.code, 0, `a pod that asks for nothing is admitted there (${outcome(plain)})`);
  });
}
