// startPod: runs an (injected) pod on this machine the way a kubelet would, for tests. Init
// containers run to completion in order; an init container with restartPolicy Always (a native
// sidecar) is started instead, and its startup probe must pass before the next one starts;
// then the app containers start together. Each container's startup probe gates its readiness
// and liveness probes; a liveness or startup probe failure or an exit restarts the container
// (restartPolicy Always) after the kubelet's back-off, and its state keeps how the last run ended
// (lastState). The pod is Ready when every app container and native sidecar is ready.
// Each program is the first process (PID 1) of its own pid namespace, as under a container
// runtime. stop() terminates the pod as the kubelet does: the image's stop signal to each
// container's first process (app containers together, then native sidecars in reverse order),
// SIGKILL to whatever is left when the grace period ends, and a record of how each one ended.
// A stop while the pod is still starting (an init container running, a native sidecar not yet
// through its startup probe) stops what runs and starts nothing more.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1Probe } from '#kube';
import { onExit } from 'signal-exit';
import { execFileSync } from 'node:child_process';
import { launch, type ContainerProcess } from './container.js';
import { containerEnv, expand } from './env.js';
import { DEFAULT_IMAGES, resolveArgv, resolveCommand, repositoryOf, type ImageMap, type ImageProgram } from './images.js';
import { createPodNetwork, type PodNetwork } from './netns.js';
import { probeTiming, runProbe } from './probes.js';
import { layOutVolumes, type Objects } from './volumes.js';

export interface StartOptions {
  secrets?: Objects;
  configMaps?: Objects;
  /** Added to (and overriding) the default image table. */
  imageMap?: ImageMap;
  /** Extra /etc/hosts entries, name -> address (cluster DNS names the test serves). */
  hosts?: Record<string, string>;
  /** Names that resolve to the host end of the pod's veth, where the test's doubles listen. */
  hostNames?: string[];
  /** The pod's nameserver (written to /etc/resolv.conf); none by default. */
  nameserver?: string;
}

export interface ContainerState {
  name: string;
  kind: 'init' | 'sidecar' | 'app';
  started: boolean;
  ready: boolean;
  restarts: number;
  lastProbeFailure?: string;
  /** How the container's previous run ended, as a kubelet's lastState.terminated says it. */
  lastState?: { exitCode: number | null; reason: 'Completed' | 'Error'; message?: string };
}

export interface Termination {
  name: string;
  kind: ContainerState['kind'];
  /** The stop signal sent (the image's STOPSIGNAL, else SIGTERM); undefined if it was not running. */
  signal?: NodeJS.Signals;
  /** What the container's first process exited with (128 + n when a signal ended it). */
  exitCode: number | null;
  /** True when it was still running at the end of the grace period and got SIGKILL. */
  killed: boolean;
  /** Milliseconds from its stop signal to its exit (reported, never asserted). */
  exitMs?: number;
}

export interface RunningPod {
  ip: string;
  /** The `ip netns` name of the pod's network namespace. */
  netns: string;
  /** The host end of the pod's veth: test doubles that the pod must reach listen here. */
  hostIp: string;
  /** Resolves with the milliseconds from startPod to Ready; rejects with every log on timeout or failure. */
  waitReady(timeoutMs: number): Promise<number>;
  /** A container's log: stdout, stderr or (by default) both, stdout first. */
  logs(container: string, stream?: 'stdout' | 'stderr'): string;
  states(): ContainerState[];
  exec(container: string, argv: string[], timeoutMs?: number): Promise<{ code: number | null; output: string }>;
  /** Adds or changes a name in the pod's /etc/hosts: a Service appearing in cluster DNS. */
  setHost(name: string, address: string): void;
  /**
   * Terminates the pod (see the top of this file); resolves with how each container ended. The
   * grace period is the pod's terminationGracePeriodSeconds unless the deletion gives another.
   */
  stop(graceSeconds?: number): Promise<Termination[]>;
}

interface Slot {
  spec: V1Container;
  state: ContainerState;
  proc?: ContainerProcess;
  logPath: string;
}

export async function startPod(pod: V1Pod, options: StartOptions = {}): Promise<RunningPod> {
  const begun = performance.now();
  const images = { ...DEFAULT_IMAGES, ...options.imageMap };
  const dir = mkdtempSync(join(tmpdir(), 'podrunner-'));
  const net = await createPodNetwork();
  const slots: Slot[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  /** Settles when stop() is called: nothing starts after it. */
  let markStopped = (): void => undefined;
  const stopping = new Promise<void>((resolve) => (markStopped = resolve));
  let failure: Error | undefined;
  const removeExitHook = onExit(() => emergencyCleanup(slots, net, dir));
  try {
    const volumeDirs = layOutVolumes(pod, join(dir, 'volumes'), options);
    const etcHosts = join(dir, 'hosts');
    const resolvConf = join(dir, 'resolv.conf');
    const hosts: Record<string, string> = { ...options.hosts };
    for (const name of options.hostNames ?? []) hosts[name] = net.hostIp;
    // Rewritten in place (same inode), so the bind mount in every container sees each change.
    const writeHosts = (): void => {
      const lines = Object.entries(hosts).map(([name, address]) => `${address}\t${name}`);
      writeFileSync(etcHosts, ['127.0.0.1\tlocalhost', `${net.podIp}\t${pod.metadata?.name ?? 'pod'}`, ...lines, ''].join('\n'));
    };
    writeHosts();
    writeFileSync(resolvConf, options.nameserver ? `nameserver ${options.nameserver}\n` : '');

    const podContext = pod.spec?.securityContext;
    const groups = [...(podContext?.fsGroup === undefined ? [] : [podContext.fsGroup]), ...(podContext?.supplementalGroups ?? [])];

    // Images built on busybox have its applets on PATH; the host's busybox stands in for them.
    let appletDir: string | undefined;
    const applets = (c: V1Container): string | undefined => {
      if (images[repositoryOf(c.image ?? '')]?.busybox !== true) return undefined;
      if (appletDir === undefined) {
        appletDir = join(dir, 'busybox-bin');
        mkdirSync(appletDir);
        const list = execFileSync('busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
        for (const applet of list) symlinkSync('/usr/bin/busybox', join(appletDir, applet));
      }
      return appletDir;
    };

    const start = (slot: Slot): ContainerProcess => {
      const c = slot.spec;
      const env = containerEnv(pod, c, net.podIp, options);
      const expandAll = (list: string[] | undefined) => list?.map((item) => expand(item, env));
      const argv = resolveArgv(images, c.image ?? '', expandAll(c.command), expandAll(c.args));
      const workingDir = c.workingDir ?? images[repositoryOf(c.image ?? '')]?.workingDir;
      const proc = launch({
        netns: net.name,
        hostname: pod.metadata?.name ?? 'pod',
        container: workingDir === undefined ? c : { ...c, workingDir },
        volumeDirs,
        etcHosts,
        resolvConf,
        ...userOf(pod, c, images[repositoryOf(c.image ?? '')], groups),
        argv,
        env,
        logPath: slot.logPath,
        extraPath: applets(c),
        imageBinds: images[repositoryOf(c.image ?? '')]?.binds,
      });
      slot.proc = proc;
      return proc;
    };

    const execIn = (slot: Slot, argv: string[], timeoutMs: number) => {
      const image = images[repositoryOf(slot.spec.image ?? '')]!;
      const env = containerEnv(pod, slot.spec, net.podIp, options);
      if (slot.proc === undefined) return Promise.resolve({ code: null, output: 'container not running' });
      return slot.proc.exec(resolveCommand(image, slot.spec.image ?? '', argv), env, timeoutMs);
    };

    const probeLoop = (slot: Slot, probe: V1Probe, onResult: (ok: boolean) => void, reason: (r: string) => void): void => {
      const timing = probeTiming(probe);
      let successes = 0;
      let failures = 0;
      const proc = slot.proc;
      const tick = async (): Promise<void> => {
        if (stopped || slot.proc !== proc) return;
        const result = await runProbe(probe, { podIp: net.podIp, container: slot.spec, exec: (argv, ms) => execIn(slot, argv, ms) });
        if (stopped || slot.proc !== proc) return;
        if (result.ok) {
          failures = 0;
          if (++successes >= timing.successThreshold) onResult(true);
        } else {
          successes = 0;
          reason(result.reason);
          if (++failures >= timing.failureThreshold) onResult(false);
        }
        schedule(tick, timing.periodMs);
      };
      schedule(tick, timing.initialDelayMs);
    };

    const schedule = (fn: () => Promise<void>, ms: number): void => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        void fn();
      }, ms);
      timers.add(timer);
    };

    /**
     * Starts a long-running container and its probes; resolves when it has started (its startup
     * probe passed), on a later run if an earlier one ended first, or when the pod is stopped.
     */
    const run = (slot: Slot): Promise<void> =>
      new Promise((resolveStarted, reject) => {
        void stopping.then(resolveStarted);
        runOnce(slot, resolveStarted, reject);
      });

    const runOnce = (slot: Slot, started: () => void, reject: (error: Error) => void): void => {
      if (stopped) return;
      let proc: ContainerProcess;
      try {
        proc = start(slot);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const c = slot.spec;
      /** Why this run was ended by the runner (a failed probe), for its lastState. */
      let killedFor: string | undefined;
      const kill = (why: string): void => {
        killedFor = why;
        proc.kill('SIGKILL');
      };
      const startProbes = (): void => {
        slot.state.started = true;
        started();
        if (c.readinessProbe)
          probeLoop(
            slot,
            c.readinessProbe,
            (ok) => (slot.state.ready = ok),
            (r) => (slot.state.lastProbeFailure = `readiness: ${r}`),
          );
        else slot.state.ready = true;
        if (c.livenessProbe)
          probeLoop(
            slot,
            c.livenessProbe,
            (ok) => {
              if (!ok) kill(`liveness probe failed: ${slot.state.lastProbeFailure ?? ''}`);
            },
            (r) => (slot.state.lastProbeFailure = `liveness: ${r}`),
          );
      };
      if (c.startupProbe) {
        probeLoop(
          slot,
          c.startupProbe,
          (ok) => {
            if (ok && !slot.state.started) startProbes();
            else if (!ok) kill(`startup probe failed: ${slot.state.lastProbeFailure ?? ''}`);
          },
          (r) => (slot.state.lastProbeFailure = `startup: ${r}`),
        );
      } else {
        startProbes();
      }
      void proc.exited.then((code) => {
        slot.state.ready = false;
        slot.state.started = false;
        if (stopped) return;
        slot.state.lastState = {
          exitCode: code,
          reason: code === 0 ? 'Completed' : 'Error',
          ...(killedFor === undefined ? {} : { message: killedFor }),
        };
        appendFileSync(
          `${slot.logPath}.stderr`,
          `[podrunner] ${c.name} exited with ${code}${killedFor === undefined ? '' : ` (${killedFor})`}; restarting after back-off\n`,
        );
        slot.state.restarts++;
        // The kubelet's crash-loop back-off starts at 10 s and doubles up to 5 minutes.
        schedule(
          () => {
            runOnce(slot, started, (error) => (failure = error));
            return Promise.resolve();
          },
          Math.min(10_000 * 2 ** (slot.state.restarts - 1), 300_000),
        );
      });
    };

    const readyWaiters: (() => void)[] = [];
    const checkReady = (): boolean =>
      slots.every((s) => s.state.kind === 'init' || s.state.ready) && slots.some((s) => s.state.kind === 'app');
    const poll = setInterval(() => {
      if (checkReady() || failure) for (const w of readyWaiters.splice(0)) w();
    }, 50);

    const sequence = startInOrder(pod, dir, slots, {
      stopped: () => stopped,
      start: (slot) => start(slot).exited,
      run,
    }).catch((error: Error) => {
      failure = error;
    });

    const describe = (): string => slots.map((s) => `--- ${s.spec.name} ${JSON.stringify(s.state)}\n${readLog(s).slice(-4000)}`).join('\n');

    let terminations: Promise<Termination[]> | undefined;
    const stop = (graceSeconds?: number): Promise<Termination[]> => {
      terminations ??= (async () => {
        stopped = true;
        markStopped();
        clearInterval(poll);
        for (const w of readyWaiters.splice(0)) w();
        for (const timer of timers) clearTimeout(timer);
        // The kubelet's order: app containers together, then native sidecars one by one in reverse
        // order of start, all within one grace period (default 30 s).
        const deadline = Date.now() + (graceSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
        const ended = await Promise.all(
          slots.filter((s) => s.state.kind !== 'sidecar').map((slot) => stopContainer(slot, deadline, images)),
        );
        for (const slot of slots.filter((s) => s.state.kind === 'sidecar').reverse())
          ended.push(await stopContainer(slot, deadline, images));
        await net.remove();
        rmSync(dir, { recursive: true, force: true });
        removeExitHook();
        return ended;
      })();
      return terminations;
    };

    return {
      ip: net.podIp,
      netns: net.name,
      hostIp: net.hostIp,
      logs: (name, stream) => {
        const slot = slots.find((s) => s.spec.name === name);
        return slot === undefined ? '' : readLog(slot, stream);
      },
      states: () => slots.map((s) => ({ ...s.state })),
      exec: (name, argv, timeoutMs = 10_000) => {
        const slot = slots.find((s) => s.spec.name === name);
        if (slot === undefined) throw new Error(`no container ${name}`);
        return execIn(slot, argv, timeoutMs);
      },
      stop,
      setHost: (name, address) => {
        hosts[name] = address;
        writeHosts();
      },
      waitReady: (timeoutMs) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`pod not Ready after ${timeoutMs} ms\n${describe()}`)), timeoutMs);
          const settle = (): void => {
            clearTimeout(timer);
            if (failure) reject(new Error(`pod failed: ${failure.message}\n${describe()}`));
            else if (stopped && !checkReady()) reject(new Error(`pod deleted before it was Ready\n${describe()}`));
            else resolve(Math.round(performance.now() - begun));
          };
          if (checkReady() || failure) settle();
          else readyWaiters.push(settle);
          void sequence;
        }),
    };
  } catch (error) {
    emergencyCleanup(slots, net, dir);
    removeExitHook();
    throw error;
  }
}

/**
 * The kubelet's order: init containers one by one (a native sidecar counts once it has started),
 * then the app containers together; each new container's slot is added to `slots`. Nothing more
 * starts once `stopped()`. Rejects when an init container fails or an app container cannot start.
 */
async function startInOrder(
  pod: V1Pod,
  dir: string,
  slots: Slot[],
  how: { stopped: () => boolean; start: (slot: Slot) => Promise<number | null>; run: (slot: Slot) => Promise<void> },
): Promise<void> {
  const slotOf = (spec: V1Container, kind: ContainerState['kind']): Slot => {
    const slot: Slot = {
      spec,
      logPath: join(dir, `${spec.name}.log`),
      state: { name: spec.name, kind, started: false, ready: false, restarts: 0 },
    };
    slots.push(slot);
    return slot;
  };
  for (const spec of pod.spec?.initContainers ?? []) {
    if (how.stopped()) return;
    if (spec.restartPolicy === 'Always') {
      await how.run(slotOf(spec, 'sidecar'));
      continue;
    }
    const slot = slotOf(spec, 'init');
    const code = await how.start(slot);
    if (how.stopped()) return;
    if (code !== 0) throw new Error(`init container ${spec.name} exited with ${code}:\n${readLog(slot)}`);
  }
  if (how.stopped()) return;
  // Started together: the first that cannot start fails the pod, the others run on.
  await Promise.all((pod.spec?.containers ?? []).map((spec) => how.run(slotOf(spec, 'app'))));
}

function readLog(slot: Slot, stream?: 'stdout' | 'stderr'): string {
  const read = (name: string): string => {
    try {
      return readFileSync(`${slot.logPath}.${name}`, 'utf8');
    } catch {
      return '';
    }
  };
  return stream === undefined ? read('stdout') + read('stderr') : read(stream);
}

/** Synchronous: also runs from an exit handler when a test dies half-way. */
function emergencyCleanup(slots: Slot[], net: PodNetwork, dir: string): void {
  for (const slot of slots) slot.proc?.kill('SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', net.name], { stdio: 'ignore' });
  } catch {
    /* gone */
  }
  rmSync(dir, { recursive: true, force: true });
}

/** The image's stop signal, then SIGKILL at the deadline: how the container ended. */
async function stopContainer(slot: Slot, deadline: number, images: ImageMap): Promise<Termination> {
  const proc = slot.proc;
  const { name, kind } = slot.state;
  if (proc === undefined || proc.exitCode !== undefined) return { name, kind, exitCode: proc?.exitCode ?? null, killed: false };
  const signal = images[repositoryOf(slot.spec.image ?? '')]?.stopSignal ?? 'SIGTERM';
  const sent = performance.now();
  let killed = false;
  const timer = setTimeout(
    () => {
      killed = true;
      proc.kill('SIGKILL');
    },
    Math.max(0, deadline - Date.now()),
  );
  await proc.signal(signal);
  const exitCode = await proc.exited;
  clearTimeout(timer);
  return { name, kind, signal, exitCode, killed, exitMs: Math.round(performance.now() - sent) };
}

/** The user a container runs as: its security context over the pod's over the image's; root refused under runAsNonRoot. */
function userOf(
  pod: V1Pod,
  c: V1Container,
  image: ImageProgram | undefined,
  groups: number[],
): { uid: number; gid: number; groups: number[] } {
  const context = { ...pod.spec?.securityContext, ...c.securityContext };
  const uid = context.runAsUser ?? image?.user?.uid ?? 0;
  if (context.runAsNonRoot === true && uid === 0)
    throw new Error(`container ${c.name}: runAsNonRoot is set but the container would run as root (CreateContainerConfigError)`);
  return { uid, gid: context.runAsGroup ?? image?.user?.gid ?? uid, groups };
}
