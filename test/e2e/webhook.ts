// The real podpattern server as a child process, and its MutatingWebhookConfiguration
// registered with the e2e apiserver.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { freePorts, waitFor, type RunResult } from './cluster.js';
import type { CertPair } from './pki.js';
import { childEnv, startProcess, stopProcess, type Managed } from './processes.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PODPATTERN_CLI = join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js');
export const WEBHOOK_CONFIG_DIR = join(REPO_ROOT, 'webhook-config');

/**
 * The one place that says how the server is started: the built CLI (`npm run build`), with the
 * flags `podpattern serve` documents. Settings without a flag here go in as PODPATTERN_* env.
 */
export function serveCommand(
  ports: { port: number; healthPort: number },
  tls: CertPair,
  extraEnv: Record<string, string> = {},
): { command: string; args: string[]; env: Record<string, string> } {
  return {
    command: process.execPath,
    args: [PODPATTERN_CLI, 'serve', '--port', String(ports.port), '--health-port', String(ports.healthPort), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key],
    env: {
      PODPATTERN_HOST: '127.0.0.1',
      // 1.20 has no native sidecars (restartPolicy on an init container is dropped), and the
      // server has no cluster connection here to learn the version, so say it outright.
      PODPATTERN_NATIVE_SIDECARS: 'never',
      PODPATTERN_LOG_LEVEL: 'info',
      // Stopping the server is part of the tests (fail open/closed); a short drain keeps them quick.
      PODPATTERN_DRAIN_SECONDS: '1',
      // No live catalog unless a test asks for one (with PODPATTERN_KUBECONFIG): a kubeconfig
      // lying around on the machine must not change what these tests see.
      PODPATTERN_LIVE_CATALOG: 'off',
      ...extraEnv,
    },
  };
}

/** Why the webhook server cannot run yet, or undefined when the built CLI serves. */
export function serverMissing(): string | undefined {
  if (!existsSync(PODPATTERN_CLI)) return `needs the built CLI ${PODPATTERN_CLI} (npm run build)`;
  if (!existsSync(join(REPO_ROOT, 'src', 'main.ts'))) return 'needs `podpattern serve` (src/main.ts, the server issue)';
  if (!existsSync(join(REPO_ROOT, 'dist', 'src', 'catalog', 'builtin'))) return 'needs the built-in catalog copied into dist/ (npm run build)';
  return undefined;
}

export interface Webhook {
  port: number;
  healthPort: number;
  url: string;
  process(): Managed;
  /** Everything the server has logged since the harness first started it (all restarts). */
  logs(): string;
  stop(): Promise<void>;
  /** Starts it again on the same ports, so the registered configuration stays valid. */
  start(): Promise<void>;
}

export async function startWebhook(dir: string, tls: CertPair, extraEnv: Record<string, string> = {}): Promise<Webhook> {
  const [port, healthPort] = (await freePorts(2)) as [number, number];
  const logFile = join(dir, 'podpattern.log');
  let current: Managed | undefined;
  const webhook: Webhook = {
    port,
    healthPort,
    url: `https://127.0.0.1:${port}/mutate`,
    process: () => {
      if (current === undefined) throw new Error('podpattern is not running');
      return current;
    },
    logs: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: async () => {
      if (current !== undefined) await stopProcess(current, 10_000);
      current = undefined;
    },
    start: async () => {
      const { command, args, env } = serveCommand({ port, healthPort }, tls, extraEnv);
      const started = startProcess('podpattern', command, args, { logFile, env: childEnv(env), cwd: REPO_ROOT });
      try {
        await waitFor('podpattern /readyz', () => httpOk(`http://127.0.0.1:${healthPort}/readyz`), started, 30_000);
      } catch (error) {
        await stopProcess(started);
        throw error;
      }
      current = started;
    },
  };
  await webhook.start();
  return webhook;
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

type Json = Record<string, unknown>;

/** The project's MutatingWebhookConfiguration: the one document of that kind in webhook-config/. */
export function loadWebhookConfiguration(): { config: Json; source: string } {
  const files = existsSync(WEBHOOK_CONFIG_DIR) ? readdirSync(WEBHOOK_CONFIG_DIR).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  for (const file of files) {
    const path = join(WEBHOOK_CONFIG_DIR, file);
    for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const value = doc.toJS() as Json | null;
      if (value !== null && value.kind === 'MutatingWebhookConfiguration') return { config: value, source: path };
    }
  }
  throw new Error(`no MutatingWebhookConfiguration in ${WEBHOOK_CONFIG_DIR}/*.yaml`);
}

/**
 * The project's configuration, changed only where a loopback Kubernetes 1.20 needs it. Each
 * change is listed here; everything else (selectors, rules, policies, timeouts) is kept.
 */
export function adaptForKubernetes120(config: Json, url: string, caBundle: string): Json {
  const copy = structuredClone(config) as Json & { webhooks?: Json[] };
  for (const webhook of copy.webhooks ?? []) {
    const clientConfig = (webhook.clientConfig ?? {}) as Json & { service?: { path?: string } };
    // 1. No Service or cluster network here: the apiserver dials the server on loopback by URL,
    //    keeping the Service's path. The certificate's IP SAN 127.0.0.1 matches that URL.
    const path = clientConfig.service?.path ?? new URL(url).pathname;
    // 2. caBundle: the e2e CA that signed the server's certificate (the file has
    //    CA_BUNDLE_PLACEHOLDER, filled the same way at install time).
    webhook.clientConfig = { url: new URL(path, url).toString(), caBundle };
    // 3. 1.20 has no matchConditions (CEL arrived in 1.27); its apiserver would drop the field
    //    anyway. Without them every pod in a labelled namespace reaches the server (also
    //    mirror pods, of which there are none here), so the server itself must leave pods that
    //    ask for nothing unchanged: the tests check that too.
    delete webhook.matchConditions;
    // Kept as is, but note: 1.20 does not set the `kubernetes.io/metadata.name` label on
    // namespaces (1.21 does), so the self-exclusion NotIn on it always matches here; the
    // injection label still keeps unlabelled namespaces out.
  }
  return copy;
}

export async function registerWebhook(
  kubectl: (args: readonly string[], input?: string) => Promise<RunResult>,
  url: string,
  caBundle: string,
): Promise<{ source: string; applied: Json }> {
  const { config, source } = loadWebhookConfiguration();
  const applied = adaptForKubernetes120(config, url, caBundle);
  const result = await kubectl(['apply', '-f', '-'], JSON.stringify(applied));
  if (result.code !== 0) throw new Error(`registering the webhook from ${source} failed:\n${result.stderr}`);
  return { source, applied };
}
