// The e2e cluster's one node, and the agent that stands in for its kubelet: it registers the
// Node, and runs the pods the scheduler binds to it whose images it can run (podpattern's own,
// pulled by digest from the run's registry and unpacked, see images.ts) the way a kubelet
// would: the image pulled (ErrImagePull and ImagePullBackOff with the registry's message when
// it cannot be), a network namespace with a pod IP, the pod's volumes
// (Secrets, ConfigMaps, emptyDirs, the projected service-account token) at their mountPaths,
// the container's env (with fieldRefs and Service links), user and securityContext, readiness
// and liveness probes sent to the pod IP, the pod's status written back (phase, podIP,
// conditions, containerStatuses), and graceful termination (preStop, SIGTERM, the grace period)
// before the pod is deleted for good. Controllers then do the rest for real: the endpoints and
// EndpointSlice controllers publish a ready webhook pod, and the API server calls it there.
//
// Pods whose every image the pod runner stands in for (the images the built-in templates inject,
// and apps built on nginx, busybox, socat or Redis) are run by the pod runner instead
// (node-podrunner.ts): native sidecars, startup probes and each image's stop signal as a kubelet
// handles them. Pods it cannot run (any other image) stay bound and Pending, as on a node that
// cannot pull their images; when deleted they are removed at once, as a kubelet does for a pod
// with no running containers.
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type V1Container,
  type V1Pod,
  type V1Probe,
} from '#kube';
import { isPodpatternImage, PullError, type Image, type ImageStore } from './images.js';
import { KUBERNETES_SERVICE_IP, type NodeNetwork } from './network.js';
import { startProcess, stopProcess } from './processes.js';
import { containerSandbox, envArgs, sandboxArgs } from '../podrunner/sandbox.js';
import { fieldValue, materializeVolumes } from './node-volumes.js';
import { runnerPodSet } from './node-podrunner.js';
import { now, podStatusOf, probeLoop, type OnProbe, type RunningContainer, type RunningPod } from './node-pod-state.js';
import type { Termination } from '../podrunner/index.js';

export const NODE_NAME = 'e2e-node';

export interface NodeAgentOptions {
  kubeconfig: string;
  network: NodeNetwork;
  apiserverPort: number;
  /** Folder for pods' volumes and container logs. */
  dir: string;
  kubernetesVersion: string;
  /** Where images come from: the run's registry. */
  images: ImageStore;
}

export interface NodeAgent {
  /** The output of one container of a pod the agent runs (all its restarts). */
  logs(namespace: string, pod: string, container: string): string;
  /** The image (with its digest) a running container of a pod was started from. */
  imageOf(namespace: string, pod: string, container: string): Image | undefined;
  /** Pods the agent runs now, as namespace/name. */
  running(): string[];
  /**
   * How each container of a pod the pod runner ran ended when the pod was deleted (stop signal,
   * exit code, SIGKILL at the end of the grace period or not), by namespace and pod name.
   */
  ended(namespace: string, pod: string): Termination[] | undefined;
  stop(): Promise<void>;
}

export async function startNodeAgent(options: NodeAgentOptions): Promise<NodeAgent> {
  const kube = new KubeConfig();
  kube.loadFromFile(options.kubeconfig);
  const core = kube.makeApiClient(CoreV1Api);
  const heartbeat = await registerNode(core, kube.makeApiClient(CoordinationV1Api), options);

  const pods = new Map<string, RunningPod>();
  const finishing = new Set<string>();
  /** Pods whose images are being pulled, and whether they were deleted meanwhile. */
  const pulling = new Map<string, { deleted: boolean; wake?: () => void }>();
  const runnerPods = runnerPodSet(core, options.network.nodeIp, (pod) => forceDelete(core, pod));
  let stopped = false;

  const informer = makeInformer(kube, '/api/v1/pods', () => core.listPodForAllNamespaces());
  const reconcile = (pod: V1Pod): void => {
    if (stopped || pod.spec?.nodeName !== NODE_NAME) return;
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const running = pods.get(key);
    if (running !== undefined && running.pod.metadata?.uid !== pod.metadata?.uid) return; // an old pod of the same name is still finishing
    if (pod.metadata?.deletionTimestamp !== undefined) {
      markDeleted(pulling.get(key));
      if (running !== undefined) void terminate(running, pod);
      else if (!finishing.has(key)) void forceDelete(core, pod);
      return;
    }
    if (running !== undefined || finishing.has(key) || pulling.has(key)) return;
    if (!runnable(pod)) return;
    void start(pod).catch((error: Error) => process.stderr.write(`[node-agent] ${key}: ${error.stack ?? error.message}\n`));
  };
  // A pod the pod runner runs is the runner set's; every other pod is the agent's own.
  const onPod = (pod: V1Pod): void =>
    void (runnerPods.reconcile(pod, stopped || pod.spec?.nodeName !== NODE_NAME || runnable(pod)) || reconcile(pod));
  informer.on('add', onPod);
  informer.on('update', onPod);
  informer.on('error', () => {
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 1000);
  });
  await informer.start();

  function runnable(pod: V1Pod): boolean {
    const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    return all.length > 0 && all.every((c) => isPodpatternImage(c.image ?? ''));
  }

  async function start(pod: V1Pod): Promise<void> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const images = await pullImages(pod, key);
    if (images === undefined || stopped) return;
    const network = options.network.addPod(options.apiserverPort);
    const dir = join(options.dir, 'pods', `${pod.metadata?.namespace}_${pod.metadata?.name}_${pod.metadata?.uid}`);
    const running: RunningPod = { pod, key, network, dir, containers: new Map(), terminating: false, startedAt: now() };
    pods.set(key, running);
    const volumes = await materializeVolumes(core, pod, join(dir, 'volumes'));
    const env = await serviceLinks(core, pod);
    for (const spec of pod.spec?.containers ?? []) {
      const container: RunningContainer = {
        spec,
        image: images.get(spec.name) as Image,
        process: undefined,
        ready: false,
        started: false,
        restarts: 0,
        startedAt: now(),
        timers: [],
      };
      running.containers.set(spec.name, container);
      launch(running, container, volumes, env);
      watchProbes(running, container);
    }
    await writeStatus(running);
  }

  /**
   * Pulls every container's image, as the kubelet does before it creates the pod's sandbox. A
   * failed pull is written as the containers' waiting state, ErrImagePull with the registry's
   * message, and each failed retry as ImagePullBackOff; it tries again after 10 s, doubling to
   * 5 min (the kubelet's back-off). Undefined when the pod was deleted meanwhile.
   */
  async function pullImages(pod: V1Pod, key: string): Promise<Map<string, Image> | undefined> {
    const state: { deleted: boolean; wake?: () => void } = { deleted: false };
    pulling.set(key, state);
    try {
      for (let attempt = 0; !state.deleted && !stopped; attempt += 1) {
        try {
          const images = new Map<string, Image>();
          for (const spec of pod.spec?.containers ?? []) images.set(spec.name, await options.images.pull(spec.image ?? ''));
          return images;
        } catch (error) {
          if (!(error instanceof PullError)) throw error;
          const waiting =
            attempt === 0 ? ['ErrImagePull', error.message] : ['ImagePullBackOff', `Back-off pulling image: ${error.message}`];
          await writeWaiting(pod, waiting[0] as string, waiting[1] as string).catch(() => undefined);
          await new Promise<void>((resolve) => {
            state.wake = resolve;
            const timer = setTimeout(resolve, Math.min(300_000, 10_000 * 2 ** attempt));
            timer.unref();
          });
        }
      }
      return undefined;
    } finally {
      pulling.delete(key);
    }
  }

  /** The status of a pod whose containers wait for their images. */
  async function writeWaiting(pod: V1Pod, reason: string, message: string): Promise<void> {
    if (stopped) return;
    const condition = (type: string, status: boolean): Record<string, string> => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now(),
    });
    const status = {
      phase: 'Pending',
      hostIP: options.network.nodeIp,
      hostIPs: [{ ip: options.network.nodeIp }],
      startTime: now(),
      conditions: [
        condition('Initialized', true),
        condition('ContainersReady', false),
        condition('Ready', false),
        condition('PodScheduled', true),
      ],
      containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason, message } },
      })),
    };
    await core.patchNamespacedPodStatus(
      { name: pod.metadata?.name as string, namespace: pod.metadata?.namespace as string, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  }

  function launch(
    running: RunningPod,
    container: RunningContainer,
    volumes: Map<string, string>,
    serviceEnv: Record<string, string>,
  ): void {
    const { pod, dir } = running;
    const spec = container.spec;
    const command = containerCommand(running, spec, container.image, volumes, serviceEnv);
    const logFile = join(dir, `${spec.name}.log`);
    mkdirSync(dirname(logFile), { recursive: true });
    container.process = startProcess(`${running.key}/${spec.name}`, command[0] as string, command.slice(1), {
      logFile,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    container.startedAt = now();
    container.started = true;
    const started = container.process;
    void started.exited.then(async (code) => {
      if (container.process !== started) return;
      container.process = undefined;
      container.ready = false;
      container.started = false;
      if (running.terminating || stopped) return;
      const policy = pod.spec?.restartPolicy ?? 'Always';
      if (policy === 'Never' || (policy === 'OnFailure' && code === 0)) {
        container.exitCode = typeof code === 'number' ? code : 137;
        await writeStatus(running).catch(() => undefined);
        return;
      }
      // restartPolicy Always (a Deployment's pods): start it again after a short back-off.
      writeFileSync(logFile, `\n[node-agent] container exited (${String(code)}); restarting\n`, { flag: 'a' });
      container.restarts += 1;
      await writeStatus(running).catch(() => undefined);
      const timer = setTimeout(
        () => {
          if (!running.terminating && !stopped) launch(running, container, volumes, serviceEnv);
        },
        Math.min(10_000, 1000 * 2 ** Math.min(container.restarts, 4)),
      );
      container.timers.push(timer);
    });
  }

  function watchProbes(running: RunningPod, container: RunningContainer): void {
    const { readinessProbe, livenessProbe } = container.spec;
    if (readinessProbe === undefined) container.ready = true;
    const loop = (probe: V1Probe, onResult: OnProbe): void => probeLoop({ probe, running, container, stopped: () => stopped, onResult });
    if (readinessProbe !== undefined) {
      loop(readinessProbe, (ok, streak) => {
        const ready = ok
          ? streak.ok >= (readinessProbe.successThreshold ?? 1) || container.ready
          : streak.failed < (readinessProbe.failureThreshold ?? 3) && container.ready;
        if (ready !== container.ready) {
          container.ready = ready;
          void writeStatus(running).catch(() => undefined);
        }
      });
    }
    if (livenessProbe !== undefined) {
      loop(livenessProbe, (ok, streak) => {
        if (!ok && streak.failed >= (livenessProbe.failureThreshold ?? 3) && container.process !== undefined) {
          // The kubelet kills a container that fails liveness; the exit handler restarts it.
          void stopProcess(container.process, (running.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
          streak.failed = 0;
        }
      });
    }
  }

  async function writeStatus(running: RunningPod): Promise<void> {
    if (stopped) return;
    const status = podStatusOf(running, options.network.nodeIp);
    await core.patchNamespacedPodStatus(
      { name: running.pod.metadata?.name as string, namespace: running.pod.metadata?.namespace as string, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  }

  /** preStop, SIGTERM, the rest of the grace period, SIGKILL; then the pod is deleted for good. */
  async function terminate(running: RunningPod, pod: V1Pod): Promise<void> {
    if (running.terminating) return;
    running.terminating = true;
    finishing.add(running.key);
    const graceMs = (pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    const deadline = Date.now() + graceMs;
    await writeStatus(running).catch(() => undefined);
    await Promise.all(
      [...running.containers.values()].map(async (container) => {
        for (const timer of container.timers) clearTimeout(timer);
        const sleepSeconds = container.spec.lifecycle?.preStop?.sleep?.seconds;
        if (sleepSeconds !== undefined)
          await new Promise((resolve) => setTimeout(resolve, Math.min(sleepSeconds * 1000, Math.max(0, deadline - Date.now()))));
        if (container.process !== undefined) await stopProcess(container.process, Math.max(0, deadline - Date.now()));
      }),
    );
    running.network.remove();
    pods.delete(running.key);
    await forceDelete(core, pod);
    finishing.delete(running.key);
  }

  return {
    logs: (namespace, pod, container) => {
      const runner = runnerPods.logs(`${namespace}/${pod}`, container);
      if (runner !== undefined) return runner;
      const running = pods.get(`${namespace}/${pod}`);
      const file = running === undefined ? undefined : join(running.dir, `${container}.log`);
      return file !== undefined && existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    imageOf: (namespace, pod, container) => pods.get(`${namespace}/${pod}`)?.containers.get(container)?.image,
    running: () => [...pods.keys(), ...runnerPods.keys()],
    ended: (namespace, pod) => runnerPods.ended(`${namespace}/${pod}`),
    stop: async () => {
      stopped = true;
      for (const pull of pulling.values()) pull.wake?.();
      clearInterval(heartbeat);
      await informer.stop();
      for (const running of pods.values()) {
        running.terminating = true;
        for (const container of running.containers.values()) {
          for (const timer of container.timers) clearTimeout(timer);
          if (container.process !== undefined) await stopProcess(container.process, 5000);
        }
        running.network.remove();
      }
      pods.clear();
      await runnerPods.stop();
    },
  };
}

/** Removes a pod for good, as the kubelet does once its containers are gone. */
async function forceDelete(core: CoreV1Api, pod: V1Pod): Promise<void> {
  await core
    .deleteNamespacedPod({
      name: pod.metadata?.name as string,
      namespace: pod.metadata?.namespace as string,
      gracePeriodSeconds: 0,
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid as string } },
    })
    .catch(() => undefined);
}

/**
 * Registers the Node as Ready, and renews its Lease every 10 s as a kubelet does: the node
 * lifecycle controller then lifts the not-ready taint new nodes get, and keeps the node's pods
 * ready. Returns the heartbeat's timer.
 */
/** The sandboxed command that runs `spec` of `running` the way the kubelet would. */
function containerCommand(
  running: RunningPod,
  spec: V1Container,
  image: Image,
  volumes: Map<string, string>,
  serviceEnv: Record<string, string>,
): string[] {
  const { pod, network } = running;
  const podSecurity = pod.spec?.securityContext;
  const security = { ...podSecurity, ...spec.securityContext };
  const sandbox = containerSandbox(spec, volumes);
  const argv = [...(spec.command ?? image.entrypoint), ...(spec.args ?? (spec.command ? [] : image.cmd))];
  const uid = security.runAsUser ?? image.uid;
  if (security.runAsNonRoot === true && uid === 0)
    throw new Error(`${running.key}: runAsNonRoot with uid 0 (the kubelet refuses to start it)`);
  return [
    ...network.exec,
    ...sandboxArgs({
      ...sandbox,
      rootfs: image.rootfs,
      hostname: pod.metadata?.name ?? 'pod',
      workingDir: spec.workingDir ?? image.workingDir,
      uid,
      gid: security.runAsGroup ?? image.gid,
      groups: [...(podSecurity?.supplementalGroups ?? []), ...(podSecurity?.fsGroup === undefined ? [] : [podSecurity.fsGroup])],
    }),
    ...envArgs({ ...image.env, HOSTNAME: pod.metadata?.name ?? '', ...serviceEnv, ...containerEnv(pod, spec, network.ip) }, image.rootfs),
    ...argv,
  ];
}

async function registerNode(core: CoreV1Api, coordination: CoordinationV1Api, options: NodeAgentOptions): Promise<NodeJS.Timeout> {
  // Room for the burst tests' pods (burst.ts): they name this node and never run, but the
  // scheduler counts them against its pod capacity, and at 250 a podpattern pod rolled out
  // beside a burst of 500 would stay Pending.
  const capacity = { cpu: '16', memory: '64Gi', pods: '10000', 'ephemeral-storage': '100Gi' };
  await core.createNode({
    body: {
      metadata: {
        name: NODE_NAME,
        labels: {
          'kubernetes.io/hostname': NODE_NAME,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'topology.kubernetes.io/zone': 'e2e-a',
        },
      },
    },
  });
  const ready = {
    type: 'Ready',
    status: 'True',
    reason: 'KubeletReady',
    message: 'the e2e node agent runs pods',
    lastHeartbeatTime: now(),
    lastTransitionTime: now(),
  };
  await core.patchNodeStatus(
    {
      name: NODE_NAME,
      body: {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [ready],
          addresses: [
            { type: 'InternalIP', address: options.network.nodeIp },
            { type: 'Hostname', address: NODE_NAME },
          ],
          nodeInfo: {
            kubeletVersion: options.kubernetesVersion,
            kubeProxyVersion: options.kubernetesVersion,
            operatingSystem: 'linux',
            architecture: 'amd64',
            containerRuntimeVersion: 'e2e://bubblewrap',
            kernelVersion: '',
            osImage: 'podpattern e2e',
            machineID: '',
            systemUUID: '',
            bootID: '',
          },
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  // A MicroTime has six fractional digits; a patch body goes out as written.
  const renew = (): Promise<unknown> =>
    coordination.patchNamespacedLease(
      { name: NODE_NAME, namespace: 'kube-node-lease', body: { spec: { renewTime: new Date().toISOString().replace(/Z$/, '000Z') } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  await coordination.createNamespacedLease({
    namespace: 'kube-node-lease',
    body: { metadata: { name: NODE_NAME }, spec: { holderIdentity: NODE_NAME, leaseDurationSeconds: 40 } },
  });
  await renew();
  const timer = setInterval(() => void renew().catch(() => undefined), 10_000);
  timer.unref();
  return timer;
}

/**
 * The files of each volume the agent can provide, in a folder per volume: Secret, ConfigMap,
 * emptyDir, downwardAPI and projected (the service-account token the ServiceAccount admission
 * plugin adds, from the TokenRequest API, with the cluster CA and the namespace).
 */
function containerEnv(pod: V1Pod, container: V1Container, podIp: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined)
      env[variable.name] = variable.value.replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
    else if (variable.valueFrom?.fieldRef !== undefined) env[variable.name] = fieldValue(pod, variable.valueFrom.fieldRef.fieldPath, podIp);
    else if (variable.valueFrom?.resourceFieldRef !== undefined) env[variable.name] = '0';
    else throw new Error(`env ${variable.name}: the e2e node agent resolves values and fieldRefs only`);
  }
  return env;
}

/**
 * The Service environment variables the kubelet gives every container: the `kubernetes`
 * Service always, and (enableServiceLinks, on by default) each Service of the pod's namespace.
 */
async function serviceLinks(core: CoreV1Api, pod: V1Pod): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  const add = (name: string, ip: string, ports: Array<{ name?: string; port: number; protocol?: string }>): void => {
    if (ip === '' || ip === 'None' || ports.length === 0) return;
    const prefix = name.toUpperCase().replace(/-/g, '_');
    const first = ports[0] as { port: number; protocol?: string };
    env[`${prefix}_SERVICE_HOST`] = ip;
    env[`${prefix}_SERVICE_PORT`] = String(first.port);
    env[`${prefix}_PORT`] = `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}`;
    for (const port of ports) {
      const protocol = port.protocol ?? 'TCP';
      if (port.name) env[`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replace(/-/g, '_')}`] = String(port.port);
      const base = `${prefix}_PORT_${port.port}_${protocol}`;
      env[base] = `${protocol.toLowerCase()}://${ip}:${port.port}`;
      env[`${base}_PROTO`] = protocol.toLowerCase();
      env[`${base}_PORT`] = String(port.port);
      env[`${base}_ADDR`] = ip;
    }
  };
  if (pod.spec?.enableServiceLinks !== false) {
    const services = await core.listNamespacedService({ namespace: pod.metadata?.namespace as string });
    for (const service of services.items) add(service.metadata?.name ?? '', service.spec?.clusterIP ?? '', service.spec?.ports ?? []);
  }
  add('kubernetes', KUBERNETES_SERVICE_IP, [{ name: 'https', port: 443 }]);
  return env;
}

/** Tells a pull in progress that its pod was deleted meanwhile. */
function markDeleted(pull: { deleted: boolean; wake?: () => void } | undefined): void {
  if (pull === undefined) return;
  pull.deleted = true;
  pull.wake?.();
}
