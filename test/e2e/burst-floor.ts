// The floor webhooks of `npm run bench:cluster`: webhooks that do no work, called by the API
// server the way it calls podpattern, so that one run shows how much of the time it counts for
// a webhook call is the call itself on this machine rather than podpattern's work.
//   node          two bare node:https processes on one port (bench/floor-webhook.ts), as
//                 podpattern's two replicas: each TLS handshake on its process's one thread
//   node-threads  the same two processes, each terminating TLS on two worker threads and
//                 answering on its main thread: handshakes beside the reviews
//   go            one Go net/http process (bench/floor-webhook/): handshakes on every core
// Both answer every review allowed with no patch. They run on the node's address (where
// kube-apiserver listens), registered by URL: the API server speaks HTTP/1.1 to them, as to a
// Service, and keeps the same idle connections per host (it offers HTTP/2 only to a webhook on
// loopback: kubernetes/kubernetes#82090 and kubernetes/kubernetes#122558).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, type Cluster } from './harness.js';
import { eventually, type Kube } from './kube.js';
import { makeServingCert } from './pki.js';
import { childEnv, startProcess, stopProcess, type Managed } from './processes.js';
import { podCreateWebhook } from './test-webhook.js';

export type FloorKind = 'node' | 'node-threads' | 'go';

/** Worker threads terminating TLS in each node-threads process. */
const TLS_THREADS = 2;

/** The namespace label that sends a namespace's pod CREATEs to a floor webhook (its value: the kind). */
export const FLOOR_LABEL = 'podpattern-bench/floor';

/** Webhook names end so: the API server's metrics name each webhook. */
export const FLOOR_SUFFIX = '.floor.bench';

export interface FloorWebhook {
  kind: FloorKind;
  stop(): Promise<void>;
}

/** Starts the floor webhook of `kind` and registers it for pod CREATEs in FLOOR_LABEL=kind namespaces. */
export async function startFloor(kube: Kube, cluster: Cluster, kind: FloorKind): Promise<FloorWebhook> {
  const host = cluster.apiserverUrl.replace(/^https:\/\/|:\d+$/g, '');
  const cert = makeServingCert(cluster.dir, cluster.pki.ca, `floor-${kind}`, [host]);
  const log = (n: number): string => join(cluster.dir, `floor-${kind}-${n}.log`);
  const processes: Managed[] = [];
  const stopAll = async (): Promise<void> => void (await Promise.all(processes.map((p) => stopProcess(p))));
  try {
    if (kind !== 'go') {
      const script = join(REPO_ROOT, 'dist', 'bench', 'floor-webhook.js');
      const threads = String(kind === 'node-threads' ? TLS_THREADS : 0);
      const start = (n: number, port: number): Managed =>
        startProcess(`floor-${kind}-${n}`, process.execPath, [script, cert.cert, cert.key, host, String(port), threads], {
          logFile: log(n),
        });
      processes.push(start(1, 0));
      const port = await portOf(processes[0] as Managed);
      processes.push(start(2, port));
      await portOf(processes[1] as Managed);
      await register(kube, cluster, kind, `https://${host}:${port}/mutate`);
    } else {
      const binary = buildGoFloor(cluster.dir);
      processes.push(startProcess('floor-go', binary, [cert.cert, cert.key, `${host}:0`], { logFile: log(1) }));
      await register(kube, cluster, kind, `https://${host}:${await portOf(processes[0] as Managed)}/mutate`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    kind,
    async stop() {
      await kube.kubectl(['delete', 'mutatingwebhookconfiguration', configurationName(kind), '--ignore-not-found']);
      await stopAll();
    },
  };
}

const configurationName = (kind: FloorKind): string => `zz-bench-floor-${kind}`;

/** The port a floor webhook printed once listening (its first line). */
async function portOf(managed: Managed): Promise<number> {
  return eventually(
    `${managed.name} to listen (log: ${managed.logFile})`,
    async () => {
      const first = readFileSync(managed.logFile, 'utf8').split('\n')[0] ?? '';
      return /^\d+$/.test(first) ? Number(first) : undefined;
    },
    60_000,
  );
}

/** Builds bench/floor-webhook/ (the standard library only) into `dir`; returns the binary. */
function buildGoFloor(dir: string): string {
  const go = process.env.GO ?? '/usr/local/go/bin/go';
  const binary = join(dir, 'floor-webhook-go');
  const built = spawnSync(go, ['build', '-trimpath', '-o', binary, '.'], {
    cwd: join(REPO_ROOT, 'bench', 'floor-webhook'),
    env: childEnv({ CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local' }),
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`go build bench/floor-webhook (${go}): ${built.error?.message ?? built.stderr.trim()}`);
  return binary;
}

async function register(kube: Kube, cluster: Cluster, kind: FloorKind, url: string): Promise<void> {
  // As the chart registers podpattern's `required` entry, less what only podpattern needs.
  const configuration = podCreateWebhook(configurationName(kind), `${kind}${FLOOR_SUFFIX}`, {
    url,
    caBundle: cluster.pki.caBundle,
    namespaceLabels: { [FLOOR_LABEL]: kind },
    reinvocationPolicy: 'Never',
    timeoutSeconds: 5,
  });
  await kube.must(['apply', '-f', '-'], JSON.stringify(configuration));
}
