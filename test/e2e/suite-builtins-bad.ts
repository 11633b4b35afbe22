// The built-ins' bad starts in workloads, as the cluster stores them (the builtins group runs
// them after each built-in's own Deployment).
import type { Test } from 'tap';
import { portSquatter, restrictedApp, usesAtBoot } from '../podrunner/builtin.js';
import { eventually } from './kube.js';
import type { Json } from './pods.js';
import type { Context } from './suite.js';

/**
 * An ambassador that never becomes Ready, as the cluster shows it: service-broker injected into a
 * Deployment whose pod's own native sidecar holds the broker's port on every address, so socat's
 * bind fails at every start. The stored pod is not Ready, the broker's lastState says how its
 * last run ended, the app never started; the deletion ends the pod within its grace period.
 */
export async function neverReadyAmbassador(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const namespace = await kube.namespace('enabled');
  const labels = { app: 'broker-never-ready' };
  const annotations = {
    'podpattern.dev/ambassador': 'service-broker',
    'service-broker.podpattern.dev/service': 'mysql',
    'service-broker.podpattern.dev/namespace': 'data',
  };
  const squatter = portSquatter(3306);
  const app = {
    name: 'app',
    image: 'alpine/socat:1.8.0.3',
    command: ['sh', '-c', usesAtBoot('$(BROKER_HOST):$(BROKER_PORT)', 'socat TCP-LISTEN:8080,fork,reuseaddr STDOUT')],
    securityContext: restrictedApp,
  };
  await kube.must(
    ['create', '-f', '-'],
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broker-never-ready', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations },
          spec: { automountServiceAccountToken: false, terminationGracePeriodSeconds: 10, initContainers: [squatter], containers: [app] },
        },
      },
    }),
  );
  const created = Date.now();
  const pod = await eventually(
    "the broker's first exit in the stored pod",
    async () =>
      (await kube.pods(namespace, 'app=broker-never-ready')).find((p) =>
        (p.status?.initContainerStatuses ?? []).some((s: Json) => s.name === 'service-broker' && s.lastState?.terminated !== undefined),
      ),
    180_000,
  );
  const broker = (pod.status.initContainerStatuses as Json[]).find((s) => s.name === 'service-broker');
  t.comment(
    `broker-never-ready: after ${Date.now() - created} ms, service-broker ${JSON.stringify({ state: broker?.state, lastState: broker?.lastState })}`,
  );
  t.match(
    broker,
    { ready: false, lastState: { terminated: { exitCode: 1, reason: 'Error' } } },
    "the broker's last run ended with exit 1, stored in its lastState",
  );
  t.notOk(
    (pod.status.conditions as Json[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True'),
    'the pod is not Ready',
  );
  t.notOk(
    (pod.status.containerStatuses as Json[] | undefined)?.some((s) => s.name === 'app' && s.state?.running !== undefined),
    'the app has not started behind a broker that has not started',
  );
  await kube.must(['delete', 'deployment', 'broker-never-ready', '-n', namespace, '--wait=false']);
  const deleted = Date.now();
  await eventually(
    'the broker-never-ready pod gone',
    async () => ((await kube.pods(namespace, 'app=broker-never-ready')).length === 0 ? true : undefined),
    180_000,
  );
  t.comment(`broker-never-ready: the pod gone ${Date.now() - deleted} ms after the Deployment was deleted`);
  const ended = ctx.cluster.node.ended(namespace, pod.metadata.name) ?? [];
  for (const e of ended) {
    if (e.signal === undefined) continue; // in its back-off, or a finished init container
    t.comment(
      `broker-never-ready/${e.name} (${e.kind}): ${e.signal} -> ${e.killed ? 'SIGKILL at the end of the grace period' : `exited ${e.exitCode}`} after ${e.exitMs} ms`,
    );
    t.notOk(e.killed, `${e.name} exited on ${e.signal} by itself within the grace period (exit ${e.exitCode})`);
  }
  await kube.kubectl(['delete', 'namespace', namespace, '--wait=false']);
}
