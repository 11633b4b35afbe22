// Rollouts on a real control plane: a cluster template with spec.rollout.restart: auto, used by
// a 3-replica Deployment in each of three namespaces whose pods the node agent runs (busybox,
// through the pod runner, the injected sidecar a native sidecar on this leg). A change of the
// template's spec restarts all three (one per namespace, at most maxConcurrent at once) and
// their new pods record the new hash; a revision whose injected container exits 1 fails the
// first workload's health gate and pauses the rollout (the annotation, the RolloutPaused
// condition, Events) before every workload is reached; `podpattern rollout undo` makes the
// previous revision current again, and the workload it reached is restarted back.
import type { Test } from 'tap';
import { RELEASE_NAMESPACE, eventually } from './kube.js';
import { outcome, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';

const NAME = 'rollout-sidecar';

function template(script: string, maxConcurrent: number): Json {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: NAME },
    spec: {
      pattern: 'sidecar',
      description: 'A sidecar the rollout tests change.',
      containers: [{ name: NAME, image: 'busybox:1.36', command: ['sh', '-c', script] }],
      rollout: { restart: 'auto', maxConcurrent, healthTimeoutSeconds: 240, maxInjectedRestarts: 0 },
    },
  };
}

function deployment(name: string, namespace: string): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      template: {
        metadata: { labels, annotations: { 'podpattern.dev/sidecar': NAME } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '36000'] }] },
      },
    },
  };
}

/** The hash of NAME the pod's podpattern.dev/status records. */
function hashOf(pod: Json): string | undefined {
  const status = pod.metadata?.annotations?.['podpattern.dev/status'];
  if (status === undefined) return undefined;
  return (JSON.parse(status) as { templates: Array<{ name: string; hash: string }> }).templates.find((tpl) => tpl.name === NAME)?.hash;
}

export async function rolloutTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const apply = (object: Json) => kube.kubectl(['apply', '-f', '-'], JSON.stringify(object));
  const stored = () => kube.json(['get', 'patterntemplate', NAME]);
  /** The Deployment's pods not being deleted, when there are 3, all Running and recording one hash: that hash. */
  const settledHash = async (ns: string, name: string): Promise<string | undefined> => {
    const pods = (await kube.pods(ns, `app=${name}`)).filter((p) => p.metadata.deletionTimestamp === undefined);
    const hashes = new Set(pods.map(hashOf));
    return pods.length === 3 && pods.every((p) => p.status?.phase === 'Running') && hashes.size === 1 ? [...hashes][0] : undefined;
  };

  await t.test(
    'a changed restart: auto template restarts the workloads running it, one per namespace and bounded; a failing revision pauses; undo restores it',
    async (t) => {
      const namespaces = [await kube.namespace('enabled'), await kube.namespace('enabled'), await kube.namespace('enabled')];
      const web = namespaces.map(() => kube.unique('web'));
      t.teardown(async () => {
        for (const ns of namespaces) await kube.kubectl(['delete', 'namespace', ns, '--wait=false']);
        await kube.kubectl(['delete', 'patterntemplate', NAME, '--ignore-not-found']);
      });
      // The rollout controller looks every 2 s here (10 s by default).
      const upgraded = await kube.helmInstall('upgrade', ['controllers.rollout.intervalSeconds=2']);
      t.equal(upgraded.code, 0, outcome(upgraded));
      await kube.webhookEndpoints(2);

      const first = await apply(template('sleep 36000', 2));
      t.equal(first.code, 0, outcome(first));
      // The live catalog has it once it is Ready: pods created from then on get it.
      await eventually(
        'the template Ready',
        async () => ((await stored()).status?.conditions?.find((c: Json) => c.type === 'Ready')?.status === 'True' ? true : undefined),
        60_000,
      );
      for (const [i, ns] of namespaces.entries()) t.equal((await apply(deployment(web[i]!, ns))).code, 0);
      const h1 = await eventually(
        'three Deployments of three running, injected pods',
        async () => {
          const hashes = await Promise.all(namespaces.map((ns, i) => settledHash(ns, web[i]!)));
          return hashes.every((h) => h !== undefined) && new Set(hashes).size === 1 ? hashes[0] : undefined;
        },
        300_000,
      );

      // A new spec: every Deployment is restarted and its new pods record the new hash.
      t.equal((await apply(template('sleep 36001', 2))).code, 0);
      let mostInFlight = 0;
      const done = await eventually(
        'the rollout Complete on a new revision',
        async () => {
          const rollout = (await stored()).status?.rollout;
          const inFlight = (rollout?.restarted ?? []).filter((e: Json) => e.result === 'restarting');
          mostInFlight = Math.max(mostInFlight, inFlight.length);
          t.ok(new Set(inFlight.map((e: Json) => e.namespace)).size === inFlight.length, 'never two restarts at once in a namespace');
          return rollout?.phase === 'Complete' && rollout.revision !== h1 ? rollout : undefined;
        },
        600_000,
      );
      const h2 = done.revision as string;
      t.ok(mostInFlight <= 2, `at most maxConcurrent (2) restarting at once (seen ${mostInFlight})`);
      t.same(
        done.restarted
          .filter((e: Json) => e.hash === h2)
          .map((e: Json) => `${e.namespace}/${e.name} ${e.result}`)
          .sort(),
        namespaces.map((ns, i) => `${ns}/${web[i]} passed`).sort(),
      );
      for (const [i, ns] of namespaces.entries()) {
        t.equal(await eventually(`${ns}/${web[i]} settled`, () => settledHash(ns, web[i]!), 300_000), h2, `${ns}'s new pods record ${h2}`);
        const object = await kube.json(['get', 'deployment', web[i]!, '-n', ns]);
        t.ok(object.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'], 'restarted as kubectl rollout restart does');
      }
      const restartedAt = await Promise.all(
        namespaces.map(
          async (ns, i) =>
            (await kube.json(['get', 'deployment', web[i]!, '-n', ns])).spec.template.metadata.annotations[
              'kubectl.kubernetes.io/restartedAt'
            ] as string,
        ),
      );

      // A revision whose sidecar exits 1, one workload at a time: the first fails its gate and the rollout pauses.
      t.equal((await apply(template('exit 1', 1))).code, 0);
      const paused = await eventually(
        'the rollout paused',
        async () => {
          const object = await stored();
          return object.metadata.annotations?.['podpattern.dev/rollout-paused'] === undefined ? undefined : object;
        },
        600_000,
      ).catch(async (error: unknown) => {
        t.comment(
          `podpattern's log lines on rollouts:\n${(await kube.webhookLogs())
            .split('\n')
            .filter((l) => /rollout|restart|lease/i.test(l))
            .slice(-60)
            .join('\n')}`,
        );
        throw error;
      });
      const h3 = paused.status?.rollout?.revision as string;
      t.not(h3, h2);
      t.match(
        paused.metadata.annotations['podpattern.dev/rollout-paused'],
        /failed the health gate for revision \w+: the injected containers of its new pods restarted \d+ times \(at most 0\)/,
      );
      t.match(
        paused.status.conditions.find((c: Json) => c.type === 'RolloutPaused'),
        { status: 'True', reason: 'Paused' },
      );
      const failed = paused.status.rollout.restarted.filter((e: Json) => e.hash === h3);
      t.same(
        failed.map((e: Json) => e.result),
        ['failed'],
        'one workload reached, and it failed',
      );
      const reached = namespaces.indexOf(failed[0].namespace);
      const events = await eventually(
        'the RolloutHealthCheckFailed Event on the Deployment',
        async () => {
          const list = (
            await kube.json([
              'get',
              'events',
              '-n',
              failed[0].namespace,
              '--field-selector',
              `involvedObject.kind=Deployment,involvedObject.name=${failed[0].name},reason=RolloutHealthCheckFailed`,
            ])
          ).items as Json[];
          return list.length > 0 ? list : undefined;
        },
        60_000,
      );
      t.equal(events[0]!.type, 'Warning');
      const templateEvents = await eventually(
        'the RolloutPaused Event on the template',
        async () => {
          const list = (
            await kube.json([
              'get',
              'events',
              '-n',
              'default',
              '--field-selector',
              `involvedObject.kind=PatternTemplate,involvedObject.name=${NAME},reason=RolloutPaused`,
            ])
          ).items as Json[];
          return list.length > 0 ? list : undefined;
        },
        60_000,
      );
      t.match(templateEvents[0]!.message, /podpattern rollout resume/);
      for (const [i, ns] of namespaces.entries()) {
        if (i === reached) continue;
        const object = await kube.json(['get', 'deployment', web[i]!, '-n', ns]);
        t.equal(
          object.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'],
          restartedAt[i],
          `${ns} was not reached: not restarted again`,
        );
        t.equal(await settledHash(ns, web[i]!), h2, 'and keeps the previous revision');
      }
      const status = await podpattern(ctx, ['rollout', 'status', NAME]);
      t.equal(status.code, 1, `status exits 1 while paused: ${status.stdout}${status.stderr}`);
      t.match(status.stdout, /phase: Paused/);
      t.equal(await kube.metric('podpattern_rollout_paused', { template: NAME }), 1);

      // Undo: the previous revision is current again, the pause cleared, the reached workload restarted back.
      const undo = await podpattern(ctx, ['rollout', 'undo', NAME]);
      t.equal(undo.code, 0, `${undo.stdout}${undo.stderr}`);
      t.match(undo.stdout, new RegExp(`back to revision \\d+ \\(${h2}\\) from ${h3}; resumed`));
      const back = await eventually(
        'the rollout Complete on the restored revision',
        async () => {
          const rollout = (await stored()).status?.rollout;
          return rollout?.phase === 'Complete' && rollout.revision === h2 ? rollout : undefined;
        },
        600_000,
      );
      t.ok(
        back.restarted.some((e: Json) => e.hash === h2 && e.namespace === namespaces[reached] && e.result === 'passed'),
        'the reached workload was restarted back and passed',
      );
      t.equal((await stored()).metadata.annotations?.['podpattern.dev/rollout-paused'], undefined, 'not paused');
      t.equal(await eventually('the reached workload settled', () => settledHash(namespaces[reached]!, web[reached]!), 300_000), h2);
      const after = await podpattern(ctx, ['rollout', 'status', NAME]);
      t.equal(after.code, 0, after.stdout);
      t.match(after.stdout, /phase: Complete/);
      t.ok(RELEASE_NAMESPACE);
    },
  );
}
