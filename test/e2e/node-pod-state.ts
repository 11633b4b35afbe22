// What the e2e node agent reports of a pod it runs: the pod's status as the kubelet would write it,
// and its probes, sent the way the kubelet sends them, with their success and failure streaks.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { V1Container, V1Pod, V1Probe } from '#kube';
import type { Image } from './images.js';
import type { PodNetwork } from './network.js';
import type { Managed } from './processes.js';

export interface RunningContainer {
  spec: V1Container;
  image: Image;
  process: Managed | undefined;
  ready: boolean;
  started: boolean;
  restarts: number;
  startedAt: string;
  /** Set once a container of a pod that runs to completion has exited for good. */
  exitCode?: number;
  timers: NodeJS.Timeout[];
}

export interface RunningPod {
  pod: V1Pod;
  key: string;
  network: PodNetwork;
  dir: string;
  containers: Map<string, RunningContainer>;
  terminating: boolean;
  startedAt: string;
}

export const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The pod's status from its containers' state, with the node's and the pod's addresses. */
export function podStatusOf(running: RunningPod, nodeIp: string) {
  const containers = [...running.containers.values()];
  const ready = containers.every((c) => c.ready) && !running.terminating;
  const condition = (type: string, status: boolean): Record<string, string> => ({
    type,
    status: status ? 'True' : 'False',
    lastTransitionTime: now(),
  });
  const finished = containers.every((c) => c.exitCode !== undefined);
  return {
    phase: finished ? (containers.every((c) => c.exitCode === 0) ? 'Succeeded' : 'Failed') : 'Running',
    hostIP: nodeIp,
    hostIPs: [{ ip: nodeIp }],
    podIP: running.network.ip,
    podIPs: [{ ip: running.network.ip }],
    startTime: running.startedAt,
    conditions: [
      condition('Initialized', true),
      condition('ContainersReady', ready),
      condition('Ready', ready),
      condition('PodScheduled', true),
    ],
    containerStatuses: containers.map((c) => ({
      name: c.spec.name,
      image: c.spec.image,
      imageID: c.image.id,
      containerID: c.process === undefined ? undefined : `e2e://${c.process.pid}`,
      ready: c.ready,
      started: c.started,
      restartCount: c.restarts,
      state:
        c.exitCode !== undefined
          ? {
              terminated: {
                exitCode: c.exitCode,
                reason: c.exitCode === 0 ? 'Completed' : 'Error',
                startedAt: c.startedAt,
                finishedAt: now(),
              },
            }
          : c.process === undefined
            ? { waiting: { reason: 'CrashLoopBackOff' } }
            : { running: { startedAt: c.startedAt } },
    })),
  };
}

export type OnProbe = (ok: boolean, streak: { ok: number; failed: number }) => void;

/** Sends `probe` after its initial delay and every period while the pod runs, reporting each result. */
export function probeLoop(args: {
  probe: V1Probe;
  running: RunningPod;
  container: RunningContainer;
  stopped: () => boolean;
  onResult: OnProbe;
}): void {
  const { probe, running, container, onResult } = args;
  const streak = { ok: 0, failed: 0 };
  const tick = async (): Promise<void> => {
    if (running.terminating || args.stopped()) return;
    const ok = container.process !== undefined && (await sendProbe(probe, container.spec, running.network.ip));
    if (ok) {
      streak.ok += 1;
      streak.failed = 0;
    } else {
      streak.failed += 1;
      streak.ok = 0;
    }
    onResult(ok, streak);
    container.timers.push(setTimeout(() => void tick(), (probe.periodSeconds ?? 10) * 1000));
  };
  container.timers.push(setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000 + 200));
}

/** A probe as the kubelet sends it: to the pod IP, with its timeout; httpGet 200-399 passes. */
async function sendProbe(probe: V1Probe, container: V1Container, podIp: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const port = (value: number | string | undefined): number => {
    if (typeof value === 'number') return value;
    const named = container.ports?.find((p) => p.name === value);
    if (named === undefined) throw new Error(`probe port ${String(value)} names no port of container ${container.name}`);
    return named.containerPort;
  };
  if (probe.httpGet !== undefined) {
    const { path, httpHeaders, port: target } = probe.httpGet;
    const host = probe.httpGet.host ?? podIp;
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'user-agent': 'kube-probe/e2e', accept: '*/*' };
      for (const header of httpHeaders ?? []) headers[header.name.toLowerCase()] = header.value;
      const req = httpRequest({ host, port: port(target), path: path ?? '/', method: 'GET', headers, timeout: timeoutMs }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket !== undefined) {
    const target = port(probe.tcpSocket.port);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host ?? podIp, port: target, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => socket.destroy());
      socket.once('error', () => resolve(false));
      socket.once('close', () => resolve(false));
    });
  }
  throw new Error(`container ${container.name}: only httpGet and tcpSocket probes are supported by the e2e node agent`);
}
