// What the live-cluster commands (check, status, probe) share: finding credentials and turning
// any failure of an API call into one line that says what went wrong and what to do, never a
// stack trace. @kubernetes/client-node throws ApiException (an HTTP answer) or node-fetch's
// FetchError (no answer: refused, unknown host, TLS).
import { ApiException, KubeConfig } from '#kube';

/** A problem the command reports as one line and exits non-zero on. */
export class ClusterError extends Error {}

/** --kubeconfig, else KUBECONFIG / ~/.kube/config, else in-cluster credentials. */
export function connect(path: string | undefined, context?: string): KubeConfig {
  const config = new KubeConfig();
  try {
    if (path !== undefined) config.loadFromFile(path);
    else config.loadFromDefault();
  } catch (error) {
    throw new ClusterError(`cannot load the kubeconfig${path === undefined ? '' : ` ${path}`}: ${(error as Error).message}`);
  }
  if (context !== undefined) {
    if (config.getContextObject(context) === null)
      throw new ClusterError(
        `the kubeconfig has no context '${context}' (contexts: ${
          config
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        })`,
      );
    config.setCurrentContext(context);
  }
  const server = config.getCurrentCluster()?.server;
  // loadFromDefault falls back to http://localhost:8080 when it finds nothing: that is no cluster.
  if (server === undefined || (path === undefined && server === 'http://localhost:8080')) {
    throw new ClusterError('no cluster credentials: set KUBECONFIG, pass --kubeconfig, or run inside a pod');
  }
  return config;
}

/** The namespace of the kubeconfig's current context, else default. */
export function contextNamespace(config: KubeConfig): string {
  return config.getContextObject(config.getCurrentContext())?.namespace ?? 'default';
}

/**
 * One line for a failed call: `what` says what was being done ("list pods in shop"). Forbidden
 * answers name the missing permission, unreachable servers the address and the usual causes.
 */
export function explainFailure(error: unknown, what: string, config?: KubeConfig): string {
  if (error instanceof ApiException) {
    const message = statusMessage(error.body) ?? `HTTP ${error.code}`;
    if (error.code === 401)
      return `cannot ${what}: the API server does not accept these credentials (${message}); log in again or fix the kubeconfig's user`;
    if (error.code === 403) return `cannot ${what}: forbidden (${message}); ask for that permission (RBAC) or use a context that has it`;
    if (error.code === 404) return `cannot ${what}: not found (${message})`;
    return `cannot ${what}: the API server answered ${error.code} (${message})`;
  }
  const code = (error as { code?: unknown }).code;
  const server = config?.getCurrentCluster()?.server ?? 'the API server';
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH' ||
    code === 'ETIMEDOUT' ||
    code === 'ECONNRESET' ||
    code === 'EAI_AGAIN'
  ) {
    return `cannot ${what}: ${server} is unreachable (${String(code)}); is the cluster up and the kubeconfig's context the right one?`;
  }
  const text = error instanceof Error ? error.message : String(error);
  return `cannot ${what}: ${text.split('\n')[0]}`;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : body.trim().slice(0, 300);
    }
  }
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** Runs an API call; a failure becomes a ClusterError with its one-line explanation. */
export async function call<T>(what: string, config: KubeConfig, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw new ClusterError(explainFailure(error, what, config));
  }
}

/** Whether a failure is a 404 (so "absent" rather than "broken"). */
export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}
