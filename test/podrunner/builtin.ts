// What the built-in templates' pod tests share: a pod injected by the engine with the built-in
// catalog, started with the pod runner, stopped when the test ends, and its time to Ready
// recorded in the test's output.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import type { V1Pod, V1PodSpec } from '#kube';
import type { Test } from 'tap';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { inject, type NativeSidecarMode, type PodLike } from '../../src/engine/index.js';
import { startPod, type RunningPod, type StartOptions } from './index.js';
import { eventually as waitFor } from '../helpers/eventually.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);

/** Generous for a loaded 2-core machine; a real hang still fails loudly. */
export const READY_BOUND_MS = 60_000;

/** Why these tests cannot run here, or false. */
export function podRunnerSkip(programs: string[]): string | false {
  if (process.getuid?.() !== 0) return 'the pod runner needs root (network namespaces)';
  const missing = ['ip', 'bwrap', 'setpriv', 'nsenter', ...programs].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
  return missing.length > 0 ? `not installed (CI installs them): ${missing.join(', ')}` : false;
}

/** A pod with this spec whose annotations ask for one template with these parameters, injected. */
export function injectedPod(
  pattern: string,
  template: string,
  parameters: Record<string, string>,
  spec: V1PodSpec,
  nativeSidecars: NativeSidecarMode = 'never',
): V1Pod {
  const annotations: Record<string, string> = { [`podpattern.dev/${pattern}`]: template };
  for (const [name, value] of Object.entries(parameters)) annotations[`${template}.podpattern.dev/${name}`] = value;
  const pod: PodLike = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${template}-test`, namespace: 'default', annotations }, spec };
  const result = inject(pod, catalog, { nativeSidecars });
  if (result.outcome !== 'injected') throw new Error(`${template} was not injected: ${JSON.stringify(result)}`);
  return result.pod;
}

/** Starts the pod, waits for Ready within the bound, and stops it when the test ends. */
export async function runUntilReady(t: Test, pod: V1Pod, options: StartOptions = {}): Promise<RunningPod> {
  const running = await startPod(pod, options);
  t.teardown(() => running.stop());
  const ms = await running.waitReady(READY_BOUND_MS);
  t.comment(`${pod.metadata?.name}: Ready after ${ms} ms`);
  t.pass(`Ready within ${READY_BOUND_MS} ms (${ms} ms)`);
  return running;
}

/**
 * Deletes the pod as the kubelet would (stop signal, grace period, SIGKILL) and checks that every
 * container ended by itself before the grace period was over. Each container's stop signal, exit
 * code and time to exit are written to the test's output.
 */
export async function stopCleanly(t: Test, running: RunningPod): Promise<void> {
  const ended = await running.stop();
  for (const c of ended) {
    if (c.signal === undefined) continue; // not running when the pod was deleted (a finished init container)
    t.comment(
      `${c.name} (${c.kind}): ${c.signal} -> ${c.killed ? 'SIGKILL at the end of the grace period' : `exited ${c.exitCode}`} after ${c.exitMs} ms`,
    );
    t.notOk(c.killed, `${c.name} exited on ${c.signal} by itself, before the grace period ended (exit ${c.exitCode})`);
  }
}

/** Polls `check` every 100 ms until it returns a value, or fails after `timeoutMs` with the last error. */
export function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  return waitFor(what, check, timeoutMs, 100);
}

/** What an adapter container wrote on stdout so far, a JSON record a line. */
export function stdoutRecords(running: RunningPod, container: string): Record<string, unknown>[] {
  return running
    .logs(container, 'stdout')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * A shell line that runs `command` until the container's SIGTERM: busybox programs have no
 * handler, so as PID 1 they would ignore it and wait for SIGKILL. The shell waits in `wait`,
 * where a trapped signal is taken at once.
 */
export const untilStopped = (command: string): string => `trap 'exit 0' TERM; ${command} & wait $!`;

/**
 * A shell line for an app that uses its ambassador as it starts: it connects to `address`
 * (HOST:PORT) first and exits 1 if nothing listens there (the kubelet then restarts it after a
 * back-off), else execs `command`. socat, as in the alpine/socat image.
 */
export const usesAtBoot = (address: string, command: string): string => `socat -u /dev/null TCP:${address} || exit 1; exec ${command}`;

export const restrictedApp = {
  runAsUser: 1000,
  runAsGroup: 1000,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

/**
 * An "app" for an ambassador the template wires in as $(<env>_HOST):$(<env>_PORT): it uses the
 * ambassador as it starts (usesAtBoot) and relays `port` on the pod IP to it, so a test reaches
 * the ambassador from outside the pod; Ready once it listens.
 */
export const relayApp = (env: string, port: number) => ({
  name: 'app',
  image: 'alpine/socat:1.8.0.3',
  command: [
    'sh',
    '-c',
    usesAtBoot(`$(${env}_HOST):$(${env}_PORT)`, `socat TCP-LISTEN:${port},fork,reuseaddr TCP:$(${env}_HOST):$(${env}_PORT)`),
  ],
  securityContext: restrictedApp,
  ports: [{ containerPort: port }],
  readinessProbe: { tcpSocket: { port }, periodSeconds: 1 },
});

/**
 * A native sidecar that holds `port` on every address of the pod, so that an ambassador's bind
 * on 127.0.0.1 at that port fails (EADDRINUSE) at every start and it never becomes Ready.
 */
export const portSquatter = (port: number) => ({
  name: 'squatter',
  image: 'alpine/socat:1.8.0.3',
  restartPolicy: 'Always',
  command: ['socat', '-u', `TCP-LISTEN:${port},fork,reuseaddr`, 'STDOUT'],
  securityContext: restrictedApp,
  startupProbe: { tcpSocket: { port }, periodSeconds: 1 },
});

/** Sends `text` and resolves with everything the far end sends back before it closes. */
export function roundTrip(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = '';
    socket.setTimeout(30_000, () => socket.destroy(new Error('timed out')));
    socket.on('connect', () => socket.end(text));
    socket.on('data', (chunk) => (received += String(chunk)));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

/**
 * An nginx app for log-normalizer: it listens on 8080, answers 204 and writes the combined format
 * to /var/log/web/access.log; everything it writes besides goes to /tmp (a read-only root).
 */
export const NGINX_ACCESS_LOG_CONF = `daemon off;
pid /tmp/nginx.pid;
worker_processes 1;
events {}
http {
  client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi; uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
  access_log /var/log/web/access.log combined;
  server { listen 8080; location / { return 204; } }
}
`;

/**
 * That nginx app as container `name`: its nginx.conf from volume "conf" (NGINX_ACCESS_LOG_CONF in
 * a ConfigMap) at /etc/web, /tmp on volume "scratch"; Ready once it answers on 8080.
 */
export const nginxAccessLogApp = (name: string) => ({
  name,
  image: 'nginxinc/nginx-unprivileged:1.29.0-alpine',
  command: ['nginx', '-c', '/etc/web/nginx.conf', '-e', 'stderr'],
  securityContext: { ...restrictedApp, runAsUser: 101, runAsGroup: 101 },
  ports: [{ containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
  volumeMounts: [
    { name: 'scratch', mountPath: '/tmp' },
    { name: 'conf', mountPath: '/etc/web', readOnly: true },
  ],
});
