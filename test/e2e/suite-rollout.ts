// Rollouts on a real control plane, the show-case: a cluster template with
// spec.rollout.restart: auto and a canary (one namespace of three), used by a 3-replica
// Deployment in each namespace whose pods the node agent runs (busybox, through the pod runner,
// the injected sidecar a native sidecar on this leg). A change of the template's spec restarts
// only the canary namespace's Deployment; once it passed its gate and soaked, the revision is
// promoted (its ControllerRevision labelled) and the other two are restarted, their new pods
// recording the new hash. A revision whose injected container exits 1 reaches the canary
// Deployment only, fails its health gate and pauses the rollout (the annotation, the
// RolloutPaused condition, Events, the metric) while the other namespaces keep the promoted
// hash; `podpattern rollout undo` makes the promoted revision current again, and the canary
// Deployment is restarted back.
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';

const NAME = 'rollout-sidecar';
const STAGE = 'e2e.podpattern.dev/stage';
/** Long enough for the test to see the canary soak before the others are restarted. */
const SOAK_SECONDS = 30;

function template(script: string, maxConcurrent: number): Json {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: NAME },
    spec: {
      pattern: 'sidecar',
      description: 'A sidecar the rollout tests change.',
      // podpattern's injected containers run as non-root; busybox's image user is root, so the
      // template names one (nobody), as a kubelet would refuse the container otherwise.
      containers: [
        { name: NAME, image: 'busybox:1.36', command: ['sh', '-c', script], securityContext: { runAsUser: 65534, runAsGroup: 65534 } },
      ],
      rollout: {
        restart: 'auto',
        canary: { namespaceSelector: { matchLabels: { [STAGE]: 'canary' } }, soakSeconds: SOAK_SECONDS },
        maxConcurrent,
        healthTimeoutSeconds: 240,
        maxInjectedRestarts: 0,
      },
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
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'app', image: 'busybox:1.36', command: ['sleep', '36000'] }],
        },
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
  const restartedAt = async (ns: string, name: string): Promise<string | undefined> =>
    (await kube.json(['get', 'deployment', name, '-n', ns])).spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt'];
  /** The template's Events of `reason` (cluster-scoped: in default). */
  const templateEvents = (reason: string): Promise<Json[]> => kube.events('default', 'PatternTemplate', NAME, reason);
  const logsOnFailure = async (error: unknown): Promise<never> => {
    t.comment(
      `podpattern's log lines on rollouts:\n${(await kube.webhookLogs())
        .split('\n')
        .filter((l) => /rollout|restart|lease|canary/i.test(l))
        .slice(-60)
        .join('\n')}`,
    );
    throw error;
  };

  await t.test(
    'a changed template rolls the canary Deployment, then the rest after the soak; a failing revision pauses after the canary; undo restores it',
    async (t) => {
      const canary = await kube.namespace('enabled', { labels: { [STAGE]: 'canary' } });
      const namespaces = [canary, await kube.namespace('enabled'), await kube.namespace('enabled')];
      const others = [1, 2];
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

      // A new spec: the canary Deployment first; the other two only once the revision is promoted after the soak.
      t.equal((await apply(template('sleep 36001', 2))).code, 0);
      let mostInFlight = 0;
      let sawSoak = false;
      // What any look at the rollout found wrong, asserted once after it ends: one assertion per
      // look would make the test's count depend on how many looks the rollout took.
      const broken: string[] = [];
      const done = await eventually(
        'the rollout Complete on a new, promoted revision',
        async () => {
          const rollout = (await stored()).status?.rollout;
          const entries: Json[] = rollout?.restarted ?? [];
          const inFlight = entries.filter((e) => e.result === 'restarting');
          mostInFlight = Math.max(mostInFlight, inFlight.length);
          if (new Set(inFlight.map((e) => e.namespace)).size !== inFlight.length)
            broken.push(`two restarts at once in a namespace: ${JSON.stringify(inFlight)}`);
          if (rollout !== undefined && rollout.revision !== h1 && rollout.promoted !== rollout.revision) {
            // Not promoted yet: only the canary namespace is touched.
            const early = entries.filter((e) => e.hash === rollout.revision && e.namespace !== canary);
            if (early.length > 0)
              broken.push(`not promoted (phase ${rollout.phase}), yet restarted outside the canary: ${JSON.stringify(early)}`);
            if (rollout.phase === 'Soaking') {
              sawSoak = true;
              for (const i of others) {
                const at = await restartedAt(namespaces[i]!, web[i]!);
                if (at !== undefined) broken.push(`${namespaces[i]} restarted during the canary's soak (at ${at})`);
              }
            }
          }
          return rollout?.phase === 'Complete' && rollout.revision !== h1 && rollout.promoted === rollout.revision ? rollout : undefined;
        },
        600_000,
      ).catch(logsOnFailure);
      const h2 = done.revision as string;
      t.same(
        broken,
        [],
        'at every look: never two restarts at once in a namespace, nothing outside the canary before promotion, nobody else during the soak',
      );
      t.ok(sawSoak, 'the canary soaked before the others were restarted');
      t.ok(mostInFlight <= 2, `at most maxConcurrent (2) restarting at once (seen ${mostInFlight})`);
      t.same(
        done.restarted
          .filter((e: Json) => e.hash === h2)
          .map((e: Json) => `${e.namespace}/${e.name} ${e.result}`)
          .sort(),
        namespaces.map((ns, i) => `${ns}/${web[i]} passed`).sort(),
      );
      const canaryEntry = done.restarted.find((e: Json) => e.hash === h2 && e.namespace === canary);
      for (const i of others) {
        const entry = done.restarted.find((e: Json) => e.hash === h2 && e.namespace === namespaces[i]);
        t.ok(Date.parse(entry.at) > Date.parse(canaryEntry.at), `${namespaces[i]} was restarted after the canary`);
      }
      const promotedEvents = await eventually(
        'the RolloutPromoted Event on the template',
        async () => {
          const list = await templateEvents('RolloutPromoted');
          return list.length > 0 ? list : undefined;
        },
        60_000,
      );
      t.match(promotedEvents[0]!.message, `revision ${h2} promoted`);
      const labelled = await kube.json(['get', 'controllerrevisions', '-n', 'podpattern', '-l', 'podpattern.dev/promoted=true']);
      t.ok(
        (labelled.items as Json[]).some((r) => r.metadata.name === `${NAME}-${h2}`),
        'its ControllerRevision is labelled promoted, as rollout promote labels it',
      );
      const stamps: Array<string | undefined> = [];
      for (const [i, ns] of namespaces.entries()) {
        t.equal(await eventually(`${ns}/${web[i]} settled`, () => settledHash(ns, web[i]!), 300_000), h2, `${ns}'s new pods record ${h2}`);
        stamps.push(await restartedAt(ns, web[i]!));
        t.ok(stamps[i], 'restarted as kubectl rollout restart does');
      }

      // A revision whose sidecar exits 1: only the canary Deployment gets it, fails its gate, and the rollout pauses.
      t.equal((await apply(template('exit 1', 1))).code, 0);
      const paused = await eventually(
        'the rollout paused',
        async () => {
          // The controller writes the annotation, then the status (the condition and the canary's
          // result) in a second request: the pause is whole once both are there.
          const object = await stored();
          const annotated = object.metadata.annotations?.['podpattern.dev/rollout-paused'] !== undefined;
          const condition = (object.status?.conditions as Json[] | undefined)?.find((c) => c.type === 'RolloutPaused');
          return annotated && condition?.status === 'True' ? object : undefined;
        },
        600_000,
      ).catch(logsOnFailure);
      const h3 = paused.status?.rollout?.revision as string;
      t.not(h3, h2);
      t.match(
        paused.metadata.annotations['podpattern.dev/rollout-paused'],
        new RegExp(
          `Deployment ${canary}/${web[0]} failed the health gate for revision ${h3}: the injected containers of its new pods restarted \\d+ times \\(at most 0\\)`,
        ),
      );
      t.match(
        paused.status.conditions.find((c: Json) => c.type === 'RolloutPaused'),
        { status: 'True', reason: 'Paused' },
      );
      t.same(
        paused.status.rollout.restarted.filter((e: Json) => e.hash === h3).map((e: Json) => `${e.namespace} ${e.result}`),
        [`${canary} failed`],
        'the canary Deployment reached, and it failed',
      );
      t.equal(paused.status.rollout.promoted, h2, 'the failing revision was never promoted');
      const events = await eventually(
        'the RolloutHealthCheckFailed Event on the Deployment',
        async () => {
          const list = await kube.events(canary, 'Deployment', web[0]!, 'RolloutHealthCheckFailed');
          return list.length > 0 ? list : undefined;
        },
        60_000,
      );
      t.equal(events[0]!.type, 'Warning');
      const pausedEvents = await eventually(
        'the RolloutPaused Event on the template',
        async () => {
          const list = await templateEvents('RolloutPaused');
          return list.length > 0 ? list : undefined;
        },
        60_000,
      );
      t.match(pausedEvents[0]!.message, /podpattern rollout resume/);
      for (const i of others) {
        const ns = namespaces[i]!;
        t.equal(await restartedAt(ns, web[i]!), stamps[i], `${ns} was not reached: not restarted again`);
        t.equal(await settledHash(ns, web[i]!), h2, 'and keeps the promoted hash');
      }
      const status = await podpattern(ctx, ['rollout', 'status', NAME]);
      t.equal(status.code, 1, `status exits 1 while paused: ${status.stdout}${status.stderr}`);
      t.match(status.stdout, /phase: Paused/);
      t.equal(await kube.metric('podpattern_rollout_paused', { template: NAME }), 1);

      // Undo: the promoted revision is current again, the pause cleared, the canary Deployment restarted back.
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
      ).catch(logsOnFailure);
      t.ok(
        back.restarted.some(
          (e: Json) => e.hash === h2 && e.namespace === canary && e.result === 'passed' && Date.parse(e.at) > Date.parse(canaryEntry.at),
        ),
        'the canary Deployment was restarted back and passed',
      );
      t.equal((await stored()).metadata.annotations?.['podpattern.dev/rollout-paused'], undefined, 'not paused');
      t.equal(await eventually('the canary Deployment settled', () => settledHash(canary, web[0]!), 300_000), h2);
      for (const i of others)
        t.equal(await restartedAt(namespaces[i]!, web[i]!), stamps[i], `${namespaces[i]} was never restarted for the undo`);
      const after = await podpattern(ctx, ['rollout', 'status', NAME]);
      t.equal(after.code, 0, after.stdout);
      t.match(after.stdout, /phase: Complete/);
      t.equal(await kube.metric('podpattern_rollout_paused', { template: NAME }), 0);
    },
  );
}
