// Pods made by kube-controller-manager, as in any cluster: a Deployment scaled to 20, a
// StatefulSet with volumeClaimTemplates, a Job and a CronJob. Each pod reaches podpattern as the
// controller creates it (generateName, no name yet), and is stored injected with the
// parameters its pod template sets.
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { missingFromPod, requestAnnotations, type Json, type TemplateInfo } from './pods.js';
import type { Context } from './suite.js';

const APP = { name: 'app', image: 'registry.example/app:1.0' };

function podTemplate(labels: Record<string, string>, annotations: Record<string, string>, extra: Json = {}): Json {
  return { metadata: { labels, annotations }, spec: { containers: [{ ...APP }], ...extra } };
}

/** The exporter's container carries the port its pod template's annotation asks for. */
function usesPort(pod: Json, template: TemplateInfo, port: string): boolean {
  const names = template.spec.containers.map((c) => c.name);
  const all = [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])] as Json[];
  return all.filter((c) => names.includes(c.name)).some((c) => JSON.stringify(c).includes(port));
}

export async function controllerTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const exporter = ctx.pick('adapter', 'redis-exporter');
  const asks = { ...requestAnnotations(exporter), [`${exporter.name}.podpattern.dev/redis-port`]: '6380' };

  const injectedPods = async (namespace: string, selector: string, count: number, what: string): Promise<Json[]> =>
    eventually(
      `${count} pods of the ${what}`,
      async () => {
        const pods = await kube.pods(namespace, selector);
        return pods.length >= count ? pods : undefined;
      },
      180_000,
    );

  await t.test("a Deployment scaled to 20: every pod is stored injected, with its pod template's parameters", async (t) => {
    const namespace = await kube.namespace('enabled');
    const labels = { app: 'web' };
    await kube.must(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace },
        spec: { replicas: 1, selector: { matchLabels: labels }, template: podTemplate(labels, asks) },
      }),
    );
    await kube.must(['scale', 'deployment', 'web', '-n', namespace, '--replicas=20']);
    const pods = await injectedPods(namespace, 'app=web', 20, 'Deployment');
    t.equal(pods.length, 20, '20 pods');
    t.equal(pods.filter((p) => missingFromPod(p, exporter).length === 0).length, 20, 'all 20 injected');
    t.equal(pods.filter((p) => usesPort(p, exporter, '6380')).length, 20, 'all 20 with redis-port 6380 from the pod template');
    t.equal(new Set(pods.map((p) => p.metadata.name)).size, 20, 'with 20 names generated after admission');
  });

  await t.test('a StatefulSet with volumeClaimTemplates: pods are stored injected and keep their claims', async (t) => {
    const namespace = await kube.namespace('enabled');
    const labels = { app: 'db' };
    const template = podTemplate(labels, asks);
    template.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }];
    await kube.must(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace },
        spec: {
          replicas: 3,
          serviceName: 'db',
          // Parallel: the controller creates every pod without waiting for the previous to run.
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: labels },
          template,
          volumeClaimTemplates: [
            { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
          ],
        },
      }),
    );
    const pods = await injectedPods(namespace, 'app=db', 3, 'StatefulSet');
    t.same(pods.map((p) => p.metadata.name).sort(), ['db-0', 'db-1', 'db-2']);
    t.equal(
      pods.filter((p) => missingFromPod(p, exporter).length === 0 && usesPort(p, exporter, '6380')).length,
      3,
      "all 3 injected with the pod template's parameter",
    );
    for (const pod of pods) {
      const claim = (pod.spec.volumes as Json[]).find((v) => v.name === 'data');
      t.equal(claim?.persistentVolumeClaim?.claimName, `data-${pod.metadata.name}`, `${pod.metadata.name} keeps its claim volume`);
    }
    const claims = await kube.json(['get', 'pvc', '-n', namespace]);
    t.equal(claims.items.length, 3, 'the controller made the three claims');
  });

  await t.test('a Job and a CronJob: their pods are stored injected', async (t) => {
    const namespace = await kube.namespace('enabled');
    const jobTemplate = (label: string): Json => podTemplate({ job: label }, asks, { restartPolicy: 'Never' });
    await kube.must(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'report', namespace },
        spec: { completions: 2, parallelism: 2, backoffLimit: 0, template: jobTemplate('report') },
      }),
    );
    await kube.must(
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'nightly', namespace },
        // Every minute, so the controller's first run comes within a minute.
        spec: { schedule: '* * * * *', jobTemplate: { spec: { backoffLimit: 0, template: jobTemplate('nightly') } } },
      }),
    );
    // A pod that runs to completion would never finish with a long-running adapter among its
    // containers: podpattern makes every container it adds there a native sidecar.
    const finishes = (pod: Json): boolean => {
      const added = exporter.spec.containers.map((c) => c.name);
      const init = (pod.spec.initContainers ?? []) as Json[];
      return (
        added.every((name) => init.find((c) => c.name === name)?.restartPolicy === 'Always') &&
        (pod.spec.containers as Json[]).every((c) => c.name === 'app')
      );
    };
    const jobPods = await injectedPods(namespace, 'job=report', 2, 'Job');
    t.equal(jobPods.length, 2, 'the Job made 2 pods');
    t.equal(jobPods.filter((p) => missingFromPod(p, exporter).length === 0 && usesPort(p, exporter, '6380')).length, 2, 'both injected');
    t.equal(jobPods.filter(finishes).length, 2, 'with the adapter as a native sidecar, so the Job can finish');
    const cronPods = await injectedPods(namespace, 'job=nightly', 1, 'CronJob');
    t.ok(cronPods.length >= 1, 'the CronJob made a Job, which made a pod');
    t.equal(cronPods.filter((p) => missingFromPod(p, exporter).length === 0).length, cronPods.length, 'injected');
    t.equal(cronPods.filter(finishes).length, cronPods.length, 'with the adapter as a native sidecar');
    t.ok(
      cronPods.every((p) => (p.metadata.ownerReferences as Json[]).some((o) => o.kind === 'Job' && String(o.name).startsWith('nightly-'))),
      "owned by the CronJob's Job",
    );
  });
}
