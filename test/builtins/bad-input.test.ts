// What a pod with a built-in ambassador does when its start goes wrong, run in a real pod
// (test/podrunner) as a kubelet runs it: an app that never becomes Ready behind its ambassador,
// an ambassador that never becomes Ready, and a deletion while the pod is still starting. Each
// ends in a state that says why (the failed probe, the ambassador's last exit), and the deletion
// ends every container within its grace period, never later.
import type { V1Container } from '#kube';
import t from 'tap';
import {
  eventually,
  injectedPod,
  podRunnerSkip,
  portSquatter,
  READY_BOUND_MS,
  restrictedApp,
  stopCleanly,
  untilStopped,
} from '../podrunner/builtin.js';
import { startPod } from '../podrunner/index.js';

const skip = podRunnerSkip(['socat', 'busybox']);
const broker = { service: 'mysql', namespace: 'data', port: '13306' };
const GRACE_SECONDS = 10;

/** An app that connects to its broker as it starts, then runs until stopped. */
const app = (readinessPort: number): V1Container => ({
  name: 'app',
  image: 'alpine/socat:1.8.0.3',
  command: ['sh', '-c', `socat -u /dev/null TCP:$(BROKER_HOST):$(BROKER_PORT) || exit 1; ${untilStopped('sleep 600')}`],
  securityContext: restrictedApp,
  readinessProbe: { tcpSocket: { port: readinessPort }, periodSeconds: 1 },
});

/** Ready once the container's first process catches SIGTERM (bit 15 of SigCgt in proc(5)'s status). */
const trapsTerm = ['sh', '-c', 'mask=$(sed -n "s/^SigCgt:[[:space:]]*//p" /proc/1/status); [ $((0x$mask & 0x4000)) -ne 0 ]'];

t.test(
  'an app that never becomes Ready behind its ambassador: not Ready, with the probe failure, and deleted in time',
  { skip },
  async (t) => {
    // The app uses its broker at boot, then never listens on the port its readiness probe asks.
    const pod = injectedPod(
      'ambassador',
      'service-broker',
      broker,
      { terminationGracePeriodSeconds: GRACE_SECONDS, containers: [app(8080)] },
      'always',
    );
    const running = await startPod(pod);
    t.teardown(() => running.stop());
    // The app's readiness probe has failed, and the broker's (every 10 s) has passed.
    const failure = await eventually(
      async () => {
        const [brokerState, appState] = running.states();
        return brokerState?.ready === true ? appState?.lastProbeFailure : undefined;
      },
      READY_BOUND_MS,
      "the app's failed readiness probe beside a Ready broker",
    );
    t.match(failure, /^readiness: tcp \S+:8080: connect ECONNREFUSED/, 'the reason is the readiness probe, refused on its port');
    t.match(
      running.states(),
      [
        { name: 'service-broker', kind: 'sidecar', started: true, ready: true, restarts: 0 },
        { name: 'app', kind: 'app', started: true, ready: false, restarts: 0 },
      ],
      'the ambassador is Ready and the app, which reached it at boot, runs but is not Ready',
    );
    // Deleted once its shell has its trap (past its use of the broker), so the app can stop by itself.
    await eventually(async () => ((await running.exec('app', trapsTerm)).code === 0 ? true : undefined), READY_BOUND_MS, "the app's trap");
    const notReady = t.rejects(
      running.waitReady(READY_BOUND_MS),
      /pod deleted before it was Ready/,
      'a wait for Ready ends with the deletion, not at its timeout',
    );
    await stopCleanly(t, running);
    await notReady;
  },
);

t.test("an ambassador that never becomes Ready: the app never starts, the ambassador's last state says why", { skip }, async (t) => {
  // The pod's own native sidecar holds the broker's port on every address, so the broker's bind
  // on 127.0.0.1 fails (EADDRINUSE) at every start and its startup probe never passes.
  const squatter: V1Container = portSquatter(3306);
  const pod = injectedPod(
    'ambassador',
    'service-broker',
    broker,
    { terminationGracePeriodSeconds: GRACE_SECONDS, initContainers: [squatter], containers: [app(8080)] },
    'always',
  );
  t.same(
    pod.spec?.initContainers?.map((c) => c.name),
    ['squatter', 'service-broker'],
    "the broker is injected after the pod's own sidecar",
  );
  const running = await startPod(pod);
  t.teardown(() => running.stop());
  const brokerState = await eventually(
    async () => running.states().find((s) => s.name === 'service-broker' && s.lastState !== undefined),
    READY_BOUND_MS,
    "the broker's first exit",
  );
  t.match(
    brokerState,
    { kind: 'sidecar', ready: false, restarts: 1, lastState: { exitCode: 1, reason: 'Error' } },
    'it exited 1 and waits to restart',
  );
  t.match(running.logs('service-broker'), /Address (already )?in use/, "socat's own reason is in its log");
  t.notOk(
    running.states().some((s) => s.kind === 'app'),
    'the app never starts behind an ambassador that has not started (so it never fails on a missing one)',
  );
  const notReady = t.rejects(
    running.waitReady(READY_BOUND_MS),
    /pod deleted before it was Ready/,
    'a wait for Ready ends with the deletion',
  );
  const ended = await running.stop();
  await notReady;
  t.match(
    ended,
    [
      { name: 'service-broker', killed: false },
      { name: 'squatter', signal: 'SIGTERM', killed: false },
    ],
    'the deletion ends the broker (running or in its back-off) and then the running sidecar by its stop signal, without SIGKILL',
  );
});

t.test('a deletion while an init container runs: it is stopped and nothing starts after it', { skip }, async (t) => {
  const wait: V1Container = {
    name: 'wait',
    image: 'busybox:1.37.0',
    command: ['sh', '-c', untilStopped('sleep 600')],
    securityContext: restrictedApp,
  };
  const pod = injectedPod(
    'ambassador',
    'service-broker',
    broker,
    { terminationGracePeriodSeconds: GRACE_SECONDS, initContainers: [wait], containers: [app(8080)] },
    'always',
  );
  const running = await startPod(pod);
  t.teardown(() => running.stop());
  // The stop comes once the init container's shell has its trap, so it can only end by the stop.
  await eventually(async () => ((await running.exec('wait', trapsTerm)).code === 0 ? true : undefined), READY_BOUND_MS, 'the trap set');
  const ended = await running.stop();
  t.match(
    ended,
    [{ name: 'wait', kind: 'init', signal: 'SIGTERM', exitCode: 0, killed: false }],
    'the init container exits 0 on its SIGTERM',
  );
  t.same(
    running.states().map((s) => s.name),
    ['wait'],
    'and though it exited 0, neither the ambassador nor the app was started after the deletion',
  );
});
