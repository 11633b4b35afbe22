// The control plane of one e2e leg: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, built by test/e2e/cluster/build.sh from Go modules and cached outside the
// repository, each with a kubeconfig of its own identity, plus the leg's own kubectl.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_CIDR } from './network.js';
import type { CertPair, Pki } from './pki.js';
import { childEnv, startProcess, type Managed } from './processes.js';

export const CACHE_DIR = process.env.PODPATTERN_E2E_CACHE ?? join(homedir(), '.cache', 'podpattern-e2e');
const MODULES_DIR = fileURLToPath(new URL('./cluster/', import.meta.url));

/** One Kubernetes release the suite runs on, with the binaries build.sh made for it. */
export interface Leg {
  /** `current` (the newest release built here) or `oldest` (the oldest the chart admits). */
  name: string;
  /** e.g. v1.37.2 */
  kubernetes: string;
  minor: number;
  binDir: string;
  etcd: string;
}

function requiredVersion(goMod: string, module: string): string {
  const text = readFileSync(goMod, 'utf8');
  const match = new RegExp(`^\\s*(?:require\\s+)?${module.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(text);
  if (match?.[1] === undefined) throw new Error(`${goMod} requires no ${module}`);
  return match[1];
}

/** The legs, newest first, from the module folders test/e2e/cluster/kubernetes-*. */
export function legs(): Leg[] {
  const etcdVersion = requiredVersion(join(MODULES_DIR, 'etcd', 'go.mod'), 'go.etcd.io/etcd/server/v3');
  const found = readdirSync(MODULES_DIR)
    .filter((name) => name.startsWith('kubernetes-'))
    .map((name) => {
      const kubernetes = requiredVersion(join(MODULES_DIR, name, 'go.mod'), 'k8s.io/kubernetes');
      return {
        kubernetes,
        minor: Number(kubernetes.split('.')[1]),
        binDir: join(CACHE_DIR, `kubernetes-${kubernetes}`),
        etcd: join(CACHE_DIR, `etcd-${etcdVersion}`, 'etcd'),
      };
    })
    .sort((a, b) => b.minor - a.minor);
  return found.map((leg, index) => ({ ...leg, name: index === 0 ? 'current' : index === found.length - 1 ? 'oldest' : `v1.${leg.minor}` }));
}

export function leg(name: string): Leg {
  const found = legs().find((l) => l.name === name || l.kubernetes === name || `1.${l.minor}` === name);
  if (found === undefined)
    throw new Error(
      `no e2e leg '${name}'; the legs are ${legs()
        .map((l) => `${l.name} (${l.kubernetes})`)
        .join(', ')}`,
    );
  return found;
}

/** Why a leg cannot start, or undefined: the one line that says what to do. */
export function binariesMissing(l: Leg): string | undefined {
  for (const binary of [
    l.etcd,
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'].map((b) => join(l.binDir, b)),
  ]) {
    if (!existsSync(binary)) return `${binary} is not built: run bash test/e2e/cluster/build.sh (npm run test:e2e does)`;
  }
  return undefined;
}

/** A free TCP port on `host` (the kernel picks it; it is released before use). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port assigned'));
        else resolve(address.port);
      });
    });
  });
}

export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns true, the process dies, or `timeoutMs` passes. */
export async function waitFor(what: string, probe: () => Promise<boolean>, process: Managed | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void process?.exited.then(() => {
    dead = true;
  });
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what}: the process exited early; its log (${process?.logFile}):\n${tail(process?.log() ?? '')}`);
    if (await probe().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms; log (${process?.logFile ?? 'none'}):\n${tail(process?.log() ?? '')}`);
}

export function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

export interface Etcd {
  process: Managed;
  url: string;
}

export async function startEtcd(l: Leg, dir: string): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(dir, 'etcd-data');
  mkdirSync(dataDir, { recursive: true });
  const process = startProcess(
    'etcd',
    l.etcd,
    [
      '--name=e2e',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=e2e=${peer}`,
      '--log-level=warn',
      // A throwaway store: no fsync per write keeps a loaded CI machine from stalling the API server.
      '--unsafe-no-fsync',
    ],
    { logFile: join(dir, 'etcd.log') },
  );
  await waitFor('etcd', () => httpOk(`${url}/health`), process, 60_000);
  return { process, url };
}

export interface Apiserver {
  process: Managed;
  url: string;
  port: number;
}

/**
 * kube-apiserver with its default admission plugins (ServiceAccount, PodSecurity, Priority,
 * MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ...) and RBAC, listening on the node's
 * bridge address. --enable-aggregator-routing makes it call a webhook Service at its endpoints
 * (a pod IP) instead of the Service's ClusterIP, for which this cluster has no kube-proxy.
 */
export async function startApiserver(
  l: Leg,
  dir: string,
  pki: Pki,
  { etcdUrl, host, fixedPort }: { etcdUrl: string; host: string; fixedPort?: number },
): Promise<Apiserver> {
  const port: number = fixedPort ?? ((await freePorts(1, host))[0] as number);
  const url = `https://${host}:${port}`;
  const process = startProcess(
    'kube-apiserver',
    join(l.binDir, 'kube-apiserver'),
    [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${host}`,
      `--advertise-address=${host}`,
      `--secure-port=${port}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      `--service-account-key-file=${pki.serviceAccount.publicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=RBAC',
      '--enable-aggregator-routing=true',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
    ],
    { logFile: join(dir, 'kube-apiserver.log') },
  );
  await waitFor('kube-apiserver /readyz', () => readyz(url, pki), process, 120_000);
  return { process, url, port };
}

function readyz(url: string, pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      `${url}/readyz`,
      {
        ca: readFileSync(pki.ca.cert),
        cert: readFileSync(pki.admin.cert),
        key: readFileSync(pki.admin.key),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

/**
 * kube-controller-manager with its default controllers (the node agent heartbeats the node's
 * Lease, so node lifecycle sees a healthy node). Controllers use their own service accounts,
 * as in a kubeadm cluster.
 */
export function startControllerManager(l: Leg, dir: string, pki: Pki, kubeconfig: string, extraArgs: readonly string[] = []): Managed {
  return startProcess(
    'kube-controller-manager',
    join(l.binDir, 'kube-controller-manager'),
    [
      ...componentFlags(kubeconfig),
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccount.privateKey}`,
      `--root-ca-file=${pki.ca.cert}`,
      `--cluster-signing-cert-file=${pki.ca.cert}`,
      `--cluster-signing-key-file=${pki.ca.key}`,
      // Pods of a deleted namespace or workload go quickly, so teardown between tests is fast.
      '--concurrent-gc-syncs=20',
      ...extraArgs,
    ],
    { logFile: join(dir, 'kube-controller-manager.log') },
  );
}

export function startScheduler(l: Leg, dir: string, kubeconfig: string): Managed {
  return startProcess('kube-scheduler', join(l.binDir, 'kube-scheduler'), componentFlags(kubeconfig), {
    logFile: join(dir, 'kube-scheduler.log'),
  });
}

/** What the controller manager and the scheduler share: their identity, no serving port, one instance. */
function componentFlags(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    '--secure-port=0',
    '--leader-elect=false',
    '--v=1',
  ];
}

export function writeKubeconfig(path: string, server: string, pki: Pki, user: CertPair): void {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': b64(pki.ca.cert) } }],
    users: [{ name: 'user', user: { 'client-certificate-data': b64(user.cert), 'client-key-data': b64(user.key) } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'user' } }],
    'current-context': 'e2e',
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[harness] ${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms; killed`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 300_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    // A command that exits before reading its input (kubectl refusing its arguments, say) closes
    // the pipe: the write then fails with EPIPE, which must not become an uncaught exception that
    // aborts the test mid-way. Its exit code and stderr say what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
