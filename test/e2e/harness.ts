// The e2e harness: a throwaway Kubernetes 1.20 control plane (etcd + kube-apiserver on
// loopback), kubectl bound to it, the real podpattern server, and teardown that stops only
// what was started here. Tests import from this file only.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APISERVER_BINARY, runKubectl, startApiserver, startEtcd, writeKubeconfig, type RunResult } from './cluster.js';
import { makePki, type Pki } from './pki.js';
import { stopProcess, trackTempDir, untrackTempDir, type Managed } from './processes.js';
import { registerWebhook, startWebhook, type Webhook } from './webhook.js';

export { freePort, freePorts, type RunResult } from './cluster.js';
export { serverMissing, serveCommand, loadWebhookConfiguration, adaptForKubernetes120, REPO_ROOT } from './webhook.js';
export type { Webhook } from './webhook.js';

export interface Cluster {
  /** Temp directory with certificates, kubeconfig, etcd data and every process log. */
  dir: string;
  kubeconfig: string;
  pki: Pki;
  apiserverUrl: string;
  kubectl(args: readonly string[], input?: string): Promise<RunResult>;
  /** Starts podpattern (with extra PODPATTERN_* env) and registers the webhook configuration pointing at it. */
  startWebhook(extraEnv?: Record<string, string>): Promise<{ webhook: Webhook; source: string }>;
  /** Stops kube-apiserver and starts it again on the same port (etcd keeps the data). */
  restartApiserver(): Promise<void>;
  /** Stops everything this cluster started and removes its temp directory. */
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  if (!existsSync(APISERVER_BINARY)) {
    throw new Error(`no kube-apiserver at ${APISERVER_BINARY}: run bash test/e2e/build-apiserver.sh first`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-e2e-'));
  trackTempDir(dir);
  const started: Managed[] = [];
  const webhooks: Webhook[] = [];
  const stop = async (): Promise<void> => {
    for (const webhook of webhooks) await webhook.stop();
    for (const child of started.reverse()) await stopProcess(child);
    // PODPATTERN_E2E_KEEP=1 keeps the logs and certificates for a look after a failure.
    if (process.env.PODPATTERN_E2E_KEEP === '1') process.stderr.write(`podpattern-e2e: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    untrackTempDir(dir);
  };
  try {
    const pki = makePki(dir);
    const etcd = await startEtcd(dir);
    started.push(etcd.process);
    const apiserver = await startApiserver(dir, pki, etcd.url);
    started.push(apiserver.process);
    let current = apiserver;
    const kubeconfig = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, apiserver.url, pki);
    const kubectl = (args: readonly string[], input?: string): Promise<RunResult> => runKubectl(kubeconfig, args, input);
    return {
      dir,
      kubeconfig,
      pki,
      apiserverUrl: apiserver.url,
      kubectl,
      startWebhook: async (extraEnv = {}) => {
        const webhook = await startWebhook(dir, pki.webhook, extraEnv);
        webhooks.push(webhook);
        const { source } = await registerWebhook(kubectl, webhook.url, pki.caBundle);
        return { webhook, source };
      },
      restartApiserver: async () => {
        await stopProcess(current.process);
        const port = Number(new URL(apiserver.url).port);
        const restarted = await startApiserver(dir, pki, etcd.url, port);
        started[started.indexOf(current.process)] = restarted.process;
        current = restarted;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
