// The node agent's second runtime: pods whose every image the pod runner (test/podrunner) stands
// in for, which is what the built-in templates inject (nginx, twemproxy, socat, busybox, Redis
// and its exporter, podpattern's own adapters run from this checkout's build), are run by it as
// a kubelet runs them: init containers in order, native sidecars gated by their startup probes,
// each program the first process of its own pid namespace, probes, restarts, and on deletion the
// image's stop signal, the grace period the deletion gives, and SIGKILL for what is left. The
// pod's status is written back from the runner's container states; on deletion each container's
// terminated state records its stop signal, exit code and whether the grace period ran out.
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Container, type V1Pod } from '#kube';
import { DEFAULT_IMAGES, startPod, type ContainerState, type RunningPod, type Termination } from '../podrunner/index.js';
import { repositoryOf } from '../podrunner/images.js';
import type { Objects } from '../podrunner/volumes.js';

/** How often the runner's container states are compared with what was last written. */
const STATUS_PERIOD_MS = 250;
/** How long a pod may take to become Ready before its status says why not (it keeps trying). */
const READY_REPORT_MS = 120_000;

export interface RunnerPod {
  /** A container's output so far. */
  logs(container: string): string;
  /** Deletes the pod's containers within `graceSeconds`; resolves with how each one ended. */
  terminate(graceSeconds: number): Promise<Termination[]>;
}

/** True when the pod runner has a stand-in for every image the pod names. */
function podRunnerCanRun(pod: V1Pod): boolean {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.length > 0 && all.every((c) => DEFAULT_IMAGES[repositoryOf(c.image ?? '')] !== undefined);
}

/** The pods the pod runner runs for the node agent, by namespace/name. */
export interface RunnerPodSet {
  /**
   * Starts or deletes `pod` if the pod runner runs it: not when `notOurs` (another node's pod,
   * or one the agent's own runtime has the images of) or when an image has no stand-in. True
   * when the pod is the set's.
   */
  reconcile(pod: V1Pod, notOurs: boolean): boolean;
  logs(key: string, container: string): string | undefined;
  ended(key: string): Termination[] | undefined;
  keys(): string[];
  /** Stops every pod (the node going away), with a short grace period. */
  stop(): Promise<void>;
}

interface Entry {
  uid: string | undefined;
  pod: Promise<RunnerPod>;
  started?: RunnerPod;
  finishing: boolean;
}

export function runnerPodSet(core: CoreV1Api, hostIp: string, forceDelete: (pod: V1Pod) => Promise<void>): RunnerPodSet {
  const entries = new Map<string, Entry>();
  const endings = new Map<string, Termination[]>();
  const report = (message: string): void => void process.stderr.write(`[node-agent] ${message}\n`);
  const remove = (key: string, entry: Entry, pod: V1Pod): void => {
    entry.finishing = true;
    const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    void entry.pod
      .then((runner) => runner.terminate(grace))
      .then(async (ended) => {
        endings.set(key, ended);
        entries.delete(key);
        await forceDelete(pod);
      });
  };
  return {
    reconcile: (pod, notOurs) => {
      if (notOurs || !podRunnerCanRun(pod)) return false;
      const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      const entry = entries.get(key);
      if (entry !== undefined && entry.uid !== pod.metadata?.uid) return true; // an old pod of the same name is still finishing
      if (pod.metadata?.deletionTimestamp !== undefined) {
        if (entry === undefined) void forceDelete(pod);
        else if (!entry.finishing) remove(key, entry, pod);
        return true;
      }
      if (entry !== undefined) return true;
      const starting: Entry = { uid: pod.metadata?.uid, pod: startRunnerPod(core, pod, hostIp, report), finishing: false };
      void starting.pod.then((runner) => (starting.started = runner));
      entries.set(key, starting);
      return true;
    },
    logs: (key, container) => entries.get(key)?.started?.logs(container),
    ended: (key) => endings.get(key),
    keys: () => [...entries.keys()],
    stop: async () => {
      await Promise.all([...entries.values()].map(async (entry) => (await entry.pod).terminate(5)));
      entries.clear();
    },
  };
}

/** Starts `pod` with the pod runner and keeps its stored status in step with it. */
export async function startRunnerPod(core: CoreV1Api, pod: V1Pod, hostIp: string, report: (message: string) => void): Promise<RunnerPod> {
  const namespace = pod.metadata?.namespace as string;
  const name = pod.metadata?.name as string;
  const startedAt = now();
  const writeStatus = async (status: Record<string, unknown>): Promise<void> => {
    await core.patchNamespacedPodStatus(
      { name, namespace, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  };
  let running: RunningPod;
  try {
    running = await startPod(pod, await volumeObjects(core, pod));
  } catch (error) {
    // What the kubelet reports for a pod it cannot create: the reason in each container's waiting state.
    const message = (error as Error).message;
    report(`${namespace}/${name}: ${message}`);
    await writeStatus({
      phase: 'Pending',
      containerStatuses: (pod.spec?.containers ?? []).map((c) => waiting(c, 'CreateContainerError', message)),
    }).catch(() => undefined);
    return { logs: () => '', terminate: () => Promise.resolve([]) };
  }

  let terminating = false;
  let failure: string | undefined;
  let written = '';
  const since = new Map<string, string>();
  const statusNow = (): Record<string, unknown> => {
    const states = running.states();
    const ready =
      !terminating && failure === undefined && states.some((s) => s.kind === 'app') && states.every((s) => s.kind === 'init' || s.ready);
    const condition = (type: string, status: boolean): Record<string, string> => ({ type, status: status ? 'True' : 'False' });
    const initialized = (pod.spec?.initContainers ?? []).every(
      (c) => states.some((s) => s.name === c.name && (s.kind !== 'init' || s.started)) || states.some((s) => s.kind === 'app'),
    );
    return {
      phase: 'Running',
      podIP: running.ip,
      podIPs: [{ ip: running.ip }],
      hostIP: hostIp,
      startTime: startedAt,
      conditions: [
        condition('PodScheduled', true),
        condition('Initialized', initialized),
        condition('ContainersReady', ready),
        condition('Ready', ready),
      ],
      initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => containerStatus(c, states, since)),
      containerStatuses: (pod.spec?.containers ?? []).map((c) => containerStatus(c, states, since)),
    };
  };
  const sync = async (): Promise<void> => {
    const status = statusNow();
    const text = JSON.stringify(status);
    if (text === written) return;
    written = text;
    await writeStatus(status);
  };
  const timer = setInterval(
    () =>
      void sync().catch(() => {
        written = '';
      }),
    STATUS_PERIOD_MS,
  );
  running.waitReady(READY_REPORT_MS).catch((error: Error) => {
    if (terminating) return;
    failure = error.message.split('\n')[0];
    report(`${namespace}/${name}: ${error.message}`);
  });

  return {
    logs: (container) => running.logs(container),
    terminate: async (graceSeconds) => {
      terminating = true;
      await sync().catch(() => undefined);
      const ended = await running.stop(graceSeconds);
      clearInterval(timer);
      const byName = new Map(ended.map((e) => [e.name, e]));
      const finishedAt = now();
      const terminated = (c: V1Container): Record<string, unknown> => {
        const end = byName.get(c.name);
        const exitCode = end?.exitCode ?? 137;
        const message =
          end?.signal === undefined
            ? 'not running when the pod was deleted'
            : end.killed
              ? `${end.signal}, then SIGKILL at the end of the ${graceSeconds} s grace period`
              : `${end.signal}: exited after ${end.exitMs} ms`;
        return {
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: {
            terminated: {
              exitCode,
              reason: exitCode === 0 ? 'Completed' : 'Error',
              message,
              startedAt: since.get(c.name) ?? startedAt,
              finishedAt,
            },
          },
        };
      };
      await writeStatus({
        initContainerStatuses: (pod.spec?.initContainers ?? []).map(terminated),
        containerStatuses: (pod.spec?.containers ?? []).map(terminated),
      }).catch(() => undefined);
      return ended;
    },
  };
}

function containerStatus(c: V1Container, states: ContainerState[], since: Map<string, string>): Record<string, unknown> {
  const state = states.find((s) => s.name === c.name);
  const base = { name: c.name, image: c.image, imageID: '', ready: state?.ready ?? false, restartCount: state?.restarts ?? 0 };
  if (state === undefined) return { ...base, started: false, state: { waiting: { reason: 'PodInitializing' } } };
  // An init container (not a sidecar) is followed by the next only once it exited 0.
  const later = states.indexOf(state) < states.length - 1;
  if (state.kind === 'init' && later) return { ...base, started: false, state: { terminated: { exitCode: 0, reason: 'Completed' } } };
  if (!since.has(c.name)) since.set(c.name, now());
  const running = state.kind === 'init' || state.started;
  const last = state.lastState;
  return {
    ...base,
    started: state.started,
    ...(last === undefined
      ? {}
      : {
          lastState: {
            terminated: {
              exitCode: last.exitCode ?? 137,
              reason: last.reason,
              ...(last.message === undefined ? {} : { message: last.message }),
            },
          },
        }),
    state: running
      ? { running: { startedAt: since.get(c.name) } }
      : { waiting: { reason: state.restarts > 0 ? 'CrashLoopBackOff' : 'ContainerCreating', message: state.lastProbeFailure } },
  };
}

function waiting(c: V1Container, reason: string, message: string): Record<string, unknown> {
  return { name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } };
}

/** The Secrets and ConfigMaps the pod's volumes and env name, read from the API server. */
async function volumeObjects(core: CoreV1Api, pod: V1Pod): Promise<{ secrets: Objects; configMaps: Objects }> {
  const namespace = pod.metadata?.namespace as string;
  const env = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].flatMap((c) => c.env ?? []);
  const volumes = pod.spec?.volumes ?? [];
  const named = (names: (string | undefined)[]): Set<string> => new Set(names.filter((name): name is string => name !== undefined));
  const secretNames = named([...volumes.map((v) => v.secret?.secretName), ...env.map((e) => e.valueFrom?.secretKeyRef?.name)]);
  const configMapNames = named([...volumes.map((v) => v.configMap?.name), ...env.map((e) => e.valueFrom?.configMapKeyRef?.name)]);
  const secrets: Objects = {};
  const configMaps: Objects = {};
  // A missing object is left out: the runner then refuses the pod naming it, as the kubelet waits.
  for (const name of secretNames) {
    const secret = await core.readNamespacedSecret({ name, namespace }).catch(() => undefined);
    if (secret !== undefined)
      secrets[name] = Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
      );
  }
  for (const name of configMapNames) {
    const configMap = await core.readNamespacedConfigMap({ name, namespace }).catch(() => undefined);
    if (configMap !== undefined) configMaps[name] = { ...configMap.data };
  }
  return { secrets, configMaps };
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
