// The e2e harness: podpattern released as the release workflow would (the Dockerfile's image
// built, pushed to a registry on loopback, signed; the chart stamped with its digest and pushed
// as an OCI artifact: release.ts), a throwaway Kubernetes control plane of one leg (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler), one node whose agent pulls that
// image and runs podpattern's pods from it in network namespaces, the leg's kubectl and Helm
// bound to it, and teardown that stops only what was started here. Tests import from this file
// only.
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
import { imageStore, type ImageStore } from './images.js';
import { startNodeAgent, type NodeAgent } from './node-agent.js';
import { makePki, type Pki } from './pki.js';
import { onCleanup, stopProcess, trackTempDir, untrackTempDir, type Managed } from './processes.js';
import { registryMissing, startRegistry } from './registry.js';
import {
  makeSigner,
  nextPatch,
  packageVersion,
  publishRelease,
  type BuiltImage,
  type Release,
  type Signer,
  type Tools,
} from './release.js';
import { goTool } from '../../scripts/go-tools.mjs';
import { buildImage } from '../../scripts/image.mjs';
import { missingPrerequisites } from '../../scripts/image-tools.mjs';

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
  /** The run's registry, host:port. */
  registry: string;
  /** The release the suite installs: image and chart in the run's registry. */
  release: Release;
  /** The image build the release was made from (its archive and the Node.js it carries). */
  image: BuiltImage & { nodeVersion?: string };
  images: ImageStore;
  tools: Tools;
  signer: Signer;
  /** Builds the Dockerfile again with `labels` (a new digest) and publishes it as the next patch version. */
  publishNext(labels: Record<string, string>): Promise<Release>;
  kubectl(args: readonly string[], input?: string): Promise<RunResult>;
  helm(args: readonly string[]): Promise<RunResult>;
  /** Stops kube-apiserver and starts it again on the same port (etcd keeps the data). */
  restartApiserver(): Promise<void>;
  /** Stops everything this cluster started and removes its temp directory. */
  stop(): Promise<void>;
}

/** Why the e2e suite cannot run here, or undefined; what is missing and what installs it. */
export function cannotRun(l: Leg): string | undefined {
  const problems = [
    networkUnavailable(),
    binariesMissing(l),
    registryMissing(),
    ...missingPrerequisites().map((p) => `the image build: ${p}`),
  ].filter((p) => p !== undefined);
  return problems.length === 0 ? undefined : problems.join('\n');
}

export interface ClusterOptions {
  /** More flags for kube-controller-manager (the cluster burst benchmark raises its client's rate limits). */
  controllerManagerArgs?: readonly string[];
}

export async function startCluster(legName: string, options: ClusterOptions = {}): Promise<Cluster> {
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
    // The release first, as a user would find it: image built, pushed and signed, chart pushed.
    const registry = await startRegistry(dir);
    started.push(registry.process);
    const tools: Tools = { helm: goTool('helm'), cosign: goTool('cosign'), crane: goTool('crane') };
    const signer = await makeSigner(tools.cosign, join(dir, 'signing'));
    const log = (line: string): void => void process.stderr.write(`[release] ${line}\n`);
    const build = async (labels: Record<string, string>): Promise<BuiltImage & { nodeVersion?: string }> => {
      const built = await buildImage({ labels, log });
      return { archive: built.archive, digest: built.digest, nodeVersion: built.base?.nodeVersion };
    };
    const image = await build({});
    let releaseVersion = packageVersion();
    const release = await publishRelease({ tools, registry: registry.host, signer, image, version: releaseVersion, dir, log });
    const images = imageStore(tools.crane, registry.host, join(dir, 'images'));
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
    started.push(startControllerManager(l, dir, pki, controllerKubeconfig, options.controllerManagerArgs));
    started.push(startScheduler(l, dir, schedulerKubeconfig));
    // The service-account controller gives every namespace its `default` account; pods need it
    // (ServiceAccount admission), so the cluster is usable once `default` has one.
    await waitFor(
      'kube-controller-manager (the default ServiceAccount)',
      async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0,
      started[2],
      120_000,
    );
    node = await startNodeAgent({ kubeconfig, network, apiserverPort: apiserver.port, dir, kubernetesVersion: l.kubernetes, images });
    const version = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as { serverVersion?: { gitVersion?: string } };
    return {
      leg: l,
      dir,
      kubeconfig,
      pki,
      apiserverUrl: apiserver.url,
      serverVersion: version.serverVersion?.gitVersion ?? 'unknown',
      node,
      registry: registry.host,
      release,
      image,
      images,
      tools,
      signer,
      publishNext: async (labels) => {
        releaseVersion = nextPatch(releaseVersion);
        return publishRelease({ tools, registry: registry.host, signer, image: await build(labels), version: releaseVersion, dir, log });
      },
      kubectl,
      helm: (args) =>
        run(tools.helm, ['--kubeconfig', kubeconfig, ...args], {
          cwd: REPO_ROOT,
          env: { KUBECONFIG: kubeconfig, HELM_CONFIG_HOME: join(dir, 'helm-config'), HELM_CACHE_HOME: join(dir, 'helm-cache') },
        }),
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
