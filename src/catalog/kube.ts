// The Kubernetes client side of the live catalog, with @kubernetes/client-node: the kubeconfig,
// the API server's version, the real informers and the status writer. Only this file and
// cluster.ts load client-node at run time (about 75 MB of resident memory, which a server without
// a cluster does not carry: main.ts imports cluster.ts only when it finds credentials).
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  VersionApi,
  makeInformer,
  setHeaderOptions,
  type KubernetesListObject,
  type KubernetesObject,
} from '#kube';
import type { Logger } from 'pino';
import type { ServerVersion } from '../model/server-version.js';
import { TEMPLATE_GROUP, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';
import type { InformerLike } from './informer.js';
import type { ConditionWriter } from './template-watch.js';
import type { PolicyWriter } from './policy-controller.js';
import { POLICY_LABEL } from '../model/keys.js';
import { POLICY_GROUP, POLICY_NAME, POLICY_PLURAL } from '../model/policy.js';

/** Loads --kubeconfig, else the usual discovery (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path: string | undefined): KubeConfig | undefined {
  const config = new KubeConfig();
  if (path !== undefined) {
    config.loadFromFile(path);
    return config;
  }
  config.loadFromDefault();
  // loadFromDefault falls back to http://localhost:8080 when it finds nothing: that is no cluster.
  const server = config.getCurrentCluster()?.server;
  return server === undefined || server === 'http://localhost:8080' ? undefined : config;
}

/** The version the API server reports. GKE and EKS report minors such as "29+". */
export function parseServerVersion(info: { major: string; minor: string }): ServerVersion {
  return { major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10) };
}

export async function fetchServerVersion(config: KubeConfig): Promise<ServerVersion> {
  return parseServerVersion(await config.makeApiClient(VersionApi).getCode());
}

/**
 * Asks for the server version until it answers, waiting longer each time (1 s doubling to 30 s),
 * so --native-sidecars=auto settles without a restart when the API server is late.
 */
export async function detectServerVersion(
  fetch: () => Promise<ServerVersion>,
  logger: Logger,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
): Promise<ServerVersion> {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      const version = await fetch();
      logger.info({ serverVersion: `${version.major}.${version.minor}` }, 'API server version');
      return version;
    } catch (error) {
      logger.warn(
        { err: (error as Error).message, retryInMs: delay },
        'cannot read the API server version; sidecars stay classic under auto until it answers',
      );
      await sleep(delay);
    }
  }
}

/**
 * A client-node informer on `path`, listing with `list` (and watching with `labelSelector`, which `list` must use too). client-node emits 'connect' before it
 * lists (on its first start and again on every relist after an expired watch), so readiness
 * cannot be taken from it. The informer applies a list (its add, update and delete events)
 * synchronously once the list call resolves, so a callback scheduled with setImmediate from
 * inside the call runs after all of them: that is `onListed`.
 */
export function kubeInformer<T extends KubernetesObject>(
  config: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  labelSelector?: string,
): InformerLike<T> {
  const listeners: Array<() => void> = [];
  const informer = makeInformer<T>(
    config,
    path,
    async () => {
      const result = await list();
      setImmediate(() => {
        for (const listener of listeners) listener();
      });
      return result;
    },
    labelSelector,
  );
  return {
    // One function for both of client-node's overloads: the event name picks the callback's type.
    on: ((event: 'add', callback: (object: T) => void) => informer.on(event, callback)) as InformerLike<T>['on'],
    onListed: (callback) => listeners.push(callback),
    start: () => informer.start(),
    stop: () => informer.stop(),
    get: (name) => informer.get(name),
  };
}

/** The PatternTemplate objects of the cluster, listed and watched. */
export function templateList(config: KubeConfig): () => Promise<KubernetesListObject<KubernetesObject>> {
  const custom = config.makeApiClient(CustomObjectsApi);
  return () => custom.listClusterCustomObject({ group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL });
}

export const TEMPLATES_PATH = `/apis/${TEMPLATE_GROUP}/${TEMPLATE_VERSION}/${TEMPLATE_PLURAL}`;

/** Writes a condition with a merge patch of the template's status subresource. */
export function conditionWriter(config: KubeConfig): ConditionWriter {
  const custom = config.makeApiClient(CustomObjectsApi);
  return async (name, condition) => {
    await custom.patchClusterCustomObjectStatus(
      { group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL, name, body: { status: { conditions: [condition] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  };
}

/** Writes namespaces' podpattern.dev/policy label and PatternPolicies' status, with merge patches. */
export function policyWriter(config: KubeConfig): PolicyWriter {
  const core = config.makeApiClient(CoreV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    labelNamespace: async (namespace, value) => {
      await core.patchNamespace({ name: namespace, body: { metadata: { labels: { [POLICY_LABEL]: value } } } }, merge);
    },
    writeStatus: async (namespace, status) => {
      await custom.patchNamespacedCustomObjectStatus(
        { group: POLICY_GROUP, version: TEMPLATE_VERSION, namespace, plural: POLICY_PLURAL, name: POLICY_NAME, body: { status } },
        merge,
      );
    },
  };
}
