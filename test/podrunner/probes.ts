// Probes as the kubelet runs them. httpGet and tcpSocket go to the POD IP (or the probe's own
// `host`), never to localhost: the kubelet probes from outside the pod's network namespace. exec
// runs the command inside the container's namespaces. Results: success, or the reason of failure.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '#kube';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export interface ProbeTarget {
  podIp: string;
  container: V1Container;
  /** Runs argv inside the container, resolving with its exit code. */
  exec(argv: string[], timeoutMs: number): Promise<{ code: number | null; output: string }>;
}

/** The kubelet's defaults (k8s.io/api core/v1 Probe field docs). */
export function probeTiming(probe: V1Probe): {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
} {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** A named port resolves against the container's own ports, as the kubelet resolves it. */
export function resolvePort(container: V1Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  if (port !== undefined && /^\d+$/.test(port)) return Number(port);
  const named = (container.ports ?? []).find((p) => p.name === port);
  if (named === undefined) throw new Error(`container ${container.name}: probe port '${String(port)}' is not a port name of the container`);
  return named.containerPort;
}

export async function runProbe(probe: V1Probe, target: ProbeTarget): Promise<ProbeResult> {
  const { timeoutMs } = probeTiming(probe);
  try {
    if (probe.tcpSocket !== undefined) {
      return await tcpProbe(probe.tcpSocket.host ?? target.podIp, resolvePort(target.container, probe.tcpSocket.port), timeoutMs);
    }
    if (probe.httpGet !== undefined) {
      const get = probe.httpGet;
      const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
      return await httpProbe(
        {
          tls: get.scheme === 'HTTPS',
          host: get.host ?? target.podIp,
          port: resolvePort(target.container, get.port),
          path: get.path ?? '/',
          headers,
        },
        timeoutMs,
      );
    }
    if (probe.exec !== undefined) {
      const { code, output } = await target.exec(probe.exec.command ?? [], timeoutMs);
      return code === 0 ? { ok: true } : { ok: false, reason: `exec exited ${code}: ${output.trim().slice(0, 500)}` };
    }
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  return { ok: false, reason: 'probe has no handler the pod runner supports (tcpSocket, httpGet, exec)' };
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, reason: `tcp ${host}:${port}: timed out` });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok: true });
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: `tcp ${host}:${port}: ${error.message}` });
    });
  });
}

/** 2xx and 3xx succeed; redirects are not followed; HTTPS certificates are not verified (kubelet). */
function httpProbe(
  { tls, host, port, path, headers }: { tls: boolean; host: string; port: number; path: string; headers: Record<string, string> },
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const request = (tls ? httpsRequest : httpRequest)(
      { host, port, path, headers: { 'User-Agent': 'kube-probe/1.31', ...headers }, rejectUnauthorized: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        const code = response.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { ok: true } : { ok: false, reason: `http ${host}:${port}${path}: status ${code}` });
      },
    );
    request.once('timeout', () => {
      request.destroy();
      resolve({ ok: false, reason: `http ${host}:${port}${path}: timed out` });
    });
    request.once('error', (error) => resolve({ ok: false, reason: `http ${host}:${port}${path}: ${error.message}` }));
    request.end();
  });
}
