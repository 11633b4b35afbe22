// etcd and kube-apiserver on loopback, an admin kubeconfig, and a kubectl that uses it.
// The apiserver is the one test/e2e/build-apiserver.sh builds and caches (Kubernetes 1.20.2).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { CertPair, Pki } from './pki.js';
import { childEnv, startProcess, stopProcess, type Managed } from './processes.js';

export const CACHE_DIR = process.env.PODPATTERN_E2E_CACHE ?? join(homedir(), '.cache', 'podpattern-e2e');
export const APISERVER_BINARY = join(CACHE_DIR, 'kube-apiserver');

/** A free TCP port on 127.0.0.1 (the kernel picks it; it is released before use). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port assigned'));
        else resolve(address.port);
      });
    });
  });
}

export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function sleep(ms: number): Promise<void> {
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

function httpOk(url: string): Promise<boolean> {
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

export async function startEtcd(dir: string): Promise<Etcd> {
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = join(dir, 'etcd-data');
  mkdirSync(dataDir, { recursive: true });
  const process = startProcess('etcd', 'etcd', [
    '--name=e2e',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=e2e=${peer}`,
    '--log-level=warn',
    '--logger=zap',
  ], { logFile: join(dir, 'etcd.log') });
  await waitFor('etcd', () => httpOk(`${url}/health`), process, 30_000);
  return { process, url };
}

export interface Apiserver {
  process: Managed;
  url: string;
}

/** Starts kube-apiserver; give `fixedPort` to restart it where clients already point. */
export async function startApiserver(dir: string, pki: Pki, etcdUrl: string, fixedPort?: number): Promise<Apiserver> {
  const port = fixedPort ?? (await freePorts(1))[0];
  const url = `https://127.0.0.1:${port}`;
  const process = startProcess('kube-apiserver', APISERVER_BINARY, [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    '--insecure-port=0', // 1.20 still opens plain :8080 by default
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    `--service-account-key-file=${pki.serviceAccount.publicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccount.privateKey}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--authorization-mode=RBAC',
    '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
    // No controller-manager creates service-account tokens, so this plugin would refuse pods.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ], { logFile: join(dir, 'kube-apiserver.log') });
  await waitFor('kube-apiserver /readyz', () => readyz(url, pki), process, 90_000);
  return { process, url };
}

function readyz(url: string, pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(`${url}/readyz`, {
      ca: readFileSync(pki.ca.cert),
      cert: readFileSync(pki.admin.cert),
      key: readFileSync(pki.admin.key),
    }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
    req.end();
  });
}

export function writeKubeconfig(path: string, server: string, pki: Pki, user: CertPair = pki.admin): void {
  const b64 = (file: string): string => readFileSync(file).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority-data': b64(pki.ca.cert) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64(user.cert), 'client-key-data': b64(user.key) } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'admin' } }],
    'current-context': 'e2e',
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl against the e2e cluster; never throws on a non-zero exit. */
export function runKubectl(kubeconfig: string, args: readonly string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], {
      env: childEnv({ KUBECONFIG: kubeconfig }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export async function stopAll(processes: Array<Managed | undefined>): Promise<void> {
  for (const p of processes) if (p !== undefined) await stopProcess(p);
}
