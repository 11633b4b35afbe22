// Healing on a real control plane: with podpattern scaled to 0, a 2-replica Deployment and a
// bare pod created in an `enabled` namespace are admitted uninjected (the webhook fails open);
// with podpattern back (helm upgrade, a short grace period), the replica holding the Lease
// restarts the Deployment once (restartedAt on its pod template, podpattern.dev/healed on it,
// a RestartedForInjection Event), kube-controller-manager rolls new pods and the webhook injects
// them; the bare pod is only reported (a NotInjected Event), never deleted, and `podpattern
// status` lists it. The Deployment's pods are never run (their images are not podpattern's):
// what is asserted is what the API server stored.
import type { Test } from 'tap';
import { RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import { isUntouched, missingFromPod, outcome, podManifest, requestAnnotations, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';

function deployment(name: string, namespace: string, annotations: Record<string, string>): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      // Recreate: the old pods go before the new ones come, so the rollout completes although
      // the node never runs these pods (a rolling update would wait for a new pod to be available).
      replicas: 2,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

export async function healTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const template = ctx.pick('sidecar', 'https-proxy');

  await t.test(
    'pods that missed injection while podpattern was down: their Deployment is restarted once and its new pods are injected; a bare pod is only reported',
    async (t) => {
      const ns = await kube.namespace('enabled');
      const web = kube.unique('healed');
      const bare = kube.unique('bare');
      t.teardown(() => kube.kubectl(['delete', 'namespace', ns, '--wait=false']));

      await kube.must(['scale', 'deployment', RELEASE, '-n', RELEASE_NAMESPACE, '--replicas=0']);
      await kube.webhookEndpoints(0);
      await eventually(
        "podpattern's pods to finish draining",
        async () => ((await kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern')).length === 0 ? true : undefined),
        120_000,
      );

      await kube.must(['apply', '-f', '-'], JSON.stringify(deployment(web, ns, requestAnnotations(template))));
      const missed = await eventually(
        "the Deployment's two pods, admitted uninjected",
        async () => {
          const pods = await kube.pods(ns, `app=${web}`);
          return pods.length === 2 ? pods : undefined;
        },
        120_000,
      );
      t.ok(missed.every(isUntouched), 'both uninjected: the enabled namespace failed open');
      const created = await kube.create(podManifest(bare, ns, requestAnnotations(template)));
      t.equal(created.code, 0, outcome(created));
      t.ok(isUntouched(created.object ?? {}), 'the bare pod too');

      // podpattern back, with a short grace period so the test need not wait a minute.
      // The rate is raised: workloads other groups left uninjected in enabled namespaces share it.
      const back = await kube.helmInstall('upgrade', [
        'controllers.heal.graceSeconds=5',
        'controllers.heal.intervalSeconds=5',
        'controllers.heal.restartsPerMinute=60',
      ]);
      t.equal(back.code, 0, outcome(back));
      await kube.webhookEndpoints(2);

      const healed = await eventually(
        'the Deployment restarted by healing',
        async () => {
          const object = await kube.json(['get', 'deployment', web, '-n', ns]);
          return object.metadata.annotations?.['podpattern.dev/healed'] === undefined ? undefined : object;
        },
        300_000,
      ).catch(async (error: unknown) => {
        t.comment(
          `podpattern's log lines on healing and the Lease:\n${(await kube.webhookLogs())
            .split('\n')
            .filter((l) => /heal|lease|leader|missed injection/i.test(l))
            .slice(-60)
            .join('\n')}`,
        );
        throw error;
      });
      const record = JSON.parse(healed.metadata.annotations['podpattern.dev/healed']) as { at: string; generation: number };
      t.equal(
        healed.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'],
        record.at,
        'restartedAt on the pod template, as kubectl rollout restart sets it',
      );
      t.equal(record.generation, healed.metadata.generation, 'the record names the generation the restart made');

      const injected = await eventually(
        "the Deployment's new pods, injected, and the old ones gone",
        async () => {
          const pods = (await kube.pods(ns, `app=${web}`)).filter((p) => p.metadata.deletionTimestamp === undefined);
          return pods.length === 2 && pods.every((p) => missingFromPod(p, template).length === 0) ? pods : undefined;
        },
        300_000,
      );
      t.ok(
        injected.every((p) => p.metadata.labels?.['podpattern.dev/injected'] === 'true'),
        'both new pods carry the template',
      );

      const reported = await eventually(
        'the NotInjected Event on the bare pod',
        async () => {
          return (await kube.events(ns, 'Pod', bare, 'NotInjected'))[0];
        },
        120_000,
      );
      t.equal(reported.type, 'Warning');
      t.match(reported.message, /admitted without injection/);
      const still = await kube.pod(ns, bare);
      t.equal(still.metadata.deletionTimestamp, undefined, 'the bare pod is not deleted');
      t.ok(isUntouched(still), 'and still uninjected');

      // Two healing passes finished after the new pods were seen (so one looked at the cluster
      // entirely after): by then nothing more has happened to the Deployment, it was restarted
      // once. (Other groups' pods that missed injection may be counted too: the cluster is shared.)
      const passes = await kube.metric('podpattern_heal_passes_total');
      await eventually(
        'two more healing passes',
        async () => ((await kube.metric('podpattern_heal_passes_total')) >= passes + 2 ? true : undefined),
        180_000,
      );
      t.equal(await kube.metric('podpattern_leader'), 1, 'exactly one replica leads');
      const restartEvents = await eventually(
        'the RestartedForInjection Event on the Deployment',
        async () => {
          const events = await kube.events(ns, 'Deployment', web, 'RestartedForInjection');
          return events.length > 0 ? events : undefined;
        },
        60_000,
      );
      t.equal(restartEvents.length, 1, 'one restart');
      t.match(restartEvents[0]?.message, new RegExp(`2 pods .*asked for podpattern.dev/sidecar=${template.name}`));
      const leader = await kube.json(['get', 'lease', 'podpattern-controllers', '-n', RELEASE_NAMESPACE]);
      t.match(leader.spec.holderIdentity, /^podpattern-/, 'a podpattern replica holds the Lease');
      const later = await kube.json(['get', 'deployment', web, '-n', ns]);
      t.equal(
        later.metadata.annotations['podpattern.dev/healed'],
        healed.metadata.annotations['podpattern.dev/healed'],
        'the record is unchanged',
      );
      t.equal(later.metadata.generation, healed.metadata.generation, 'no second restart');

      const status = await podpattern(ctx, ['status', '-n', ns]);
      t.equal(status.code, 1, `status flags the bare pod: ${status.stdout}${status.stderr}`);
      t.match(status.stdout, new RegExp(`not injected: pod ${ns}/${bare} `));
      t.notMatch(status.stdout, new RegExp(`Deployment ${ns}/${web}`), 'and no longer the Deployment');
    },
  );
}
