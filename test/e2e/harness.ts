// The e2e harness: a throwaway Kubernetes control plane of one leg (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler), one node whose agent runs podpattern's pods in
// network namespaces, the leg's kubectl and the project's Helm bound to it, and teardown that
// stops only what was started here. Tests import from this file only.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  binariesMissing,
  leg as findLeg,
  run,
  startApiserver,
  startControllerManager,
  startEtcd,
  startScheduler,
  waitFor,
  writeKubeconfig,
  type Leg,
  type RunResult,
} from './cluster.js';
import { KUBERNETES_SERVICE_IP, networkUnavailable, startNodeNetwork, type NodeNetwork } from './network.js';
import { startNodeAgent, type NodeAgent } from './node-agent.js';
import { makePki, type Pki } from './pki.js';
import { onCleanup, stopProcess, trackTempDir, untrackTempDir, type Managed } from './processes.js';

export { legs, leg, type Leg, type RunResult } from './cluster.js';
export { NODE_NAME } from './node-agent.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Cluster {
  leg: Leg;
  /** Temp directory with certificates, kubeconfig, etcd data and every process log. */
  dir: string;
  kubeconfig: string;
  pki: Pki;
  apiserverUrl: string;
  /** What the API server says it is (`/version` gitVersion). */
  serverVersion: string;
  node: NodeAgent;
  kubectl(args: readonly string[], input?: string): Promise<RunResult>;
  helm(args: readonly string[]): Promise<RunResult>;
  /** Stops kube-apiserver and starts it again on the same port (etcd keeps the data). */
  restartApiserver(): Promise<void>;
  /** Stops everything this cluster started and removes its temp directory. */
  stop(): Promise<void>;
}

/** Why the e2e suite cannot run here, or undefined; one line that says what to do. */
export function cannotRun(l: Leg): string | undefined {
  return networkUnavailable() ?? binariesMissing(l);
}

export async function startCluster(legName: string): Promise<Cluster> {
  const l = findLeg(legName);
  const missing = cannotRun(l);
  if (missing !== undefined) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), `podpattern-e2e-${l.name}-`));
  trackTempDir(dir);
  const started: Managed[] = [];
  let network: NodeNetwork | undefined;
  let node: NodeAgent | undefined;
  const stop = async (): Promise<void> => {
    await node?.stop();
    for (const child of [...started].reverse()) await stopProcess(child);
    network?.stop();
    // PODPATTERN_E2E_KEEP=1 keeps the logs and certificates for a look after a failure.
    if (process.env.PODPATTERN_E2E_KEEP === '1') process.stderr.write(`podpattern-e2e: kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    untrackTempDir(dir);
  };
  try {
    network = startNodeNetwork();
    onCleanup(network.stop);
    // In-cluster clients dial the `kubernetes` Service's ClusterIP; the node agent leads it here.
    const pki = makePki(dir, [network.nodeIp, KUBERNETES_SERVICE_IP]);
    const etcd = await startEtcd(l, dir);
    started.push(etcd.process);
    let apiserver = await startApiserver(l, dir, pki, { etcdUrl: etcd.url, host: network.nodeIp });
    started.push(apiserver.process);
    const kubeconfig = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, apiserver.url, pki, pki.admin);
    const controllerKubeconfig = join(dir, 'kube-controller-manager.kubeconfig');
    writeKubeconfig(controllerKubeconfig, apiserver.url, pki, pki.controllerManager);
    const schedulerKubeconfig = join(dir, 'kube-scheduler.kubeconfig');
    writeKubeconfig(schedulerKubeconfig, apiserver.url, pki, pki.scheduler);
    const kubectlBinary = join(l.binDir, 'kubectl');
    const kubectl = (args: readonly string[], input?: string): Promise<RunResult> =>
      run(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { input, env: { KUBECONFIG: kubeconfig } });
    started.push(startControllerManager(l, dir, pki, controllerKubeconfig));
    started.push(startScheduler(l, dir, schedulerKubeconfig));
    // The service-account controller gives every namespace its `default` account; pods need it
    // (ServiceAccount admission), so the cluster is usable once `default` has one.
    await waitFor('kube-controller-manager (the default ServiceAccount)', async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0, started[2], 120_000);
    node = await startNodeAgent({ kubeconfig, network, apiserverPort: apiserver.port, dir, kubernetesVersion: l.kubernetes, repoRoot: REPO_ROOT });
    const version = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as { serverVersion?: { gitVersion?: string } };
    return {
      leg: l,
      dir,
      kubeconfig,
      pki,
      apiserverUrl: apiserver.url,
      serverVersion: version.serverVersion?.gitVersion ?? 'unknown',
      node,
      kubectl,
      helm: (args) => run(process.execPath, [join(REPO_ROOT, 'scripts', 'helm.mjs'), '--kubeconfig', kubeconfig, ...args], { cwd: REPO_ROOT, env: { KUBECONFIG: kubeconfig } }),
      restartApiserver: async () => {
        const index = started.indexOf(apiserver.process);
        await stopProcess(apiserver.process);
        apiserver = await startApiserver(l, dir, pki, { etcdUrl: etcd.url, host: network?.nodeIp as string, fixedPort: apiserver.port });
        started[index] = apiserver.process;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
