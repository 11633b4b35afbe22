// The cluster source of the live catalog: informers on PatternTemplate objects and on Namespaces, with
// @kubernetes/client-node. Informers recover from expired watches themselves but stop on other
// errors, so this restarts them with backoff and reports readiness only while both are synced.
// It also writes each template's Ready condition, and asks the API server's version.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  VersionApi,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Namespace,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ServerVersion } from '../model/server-version.js';
import { isOwnKey } from '../model/keys.js';
import { TEMPLATE_GROUP as GROUP, TEMPLATE_PLURAL as PLURAL, TEMPLATE_VERSION as VERSION } from '../model/template.js';
import type { LiveCatalog, TemplateVerdict } from './live.js';

const NO_ANNOTATIONS: Record<string, string> = Object.freeze({});


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

export async function fetchServerVersion(config: KubeConfig): Promise<ServerVersion> {
  const info = await config.makeApiClient(VersionApi).getCode();
  // GKE and EKS report minors such as "29+".
  return { major: Number.parseInt(info.major, 10), minor: Number.parseInt(info.minor, 10) };
}

interface TemplateObject extends KubernetesObject {
  spec?: unknown;
  status?: { conditions?: Condition[] };
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface ClusterWatchDeps {
  config: KubeConfig;
  live: LiveCatalog;
  logger: Logger;
  /** Counts templates refused at load (the catalog load errors metric). */
  onInvalidTemplate?: (name: string) => void;
  now?: () => Date;
  maxBackoffMs?: number;
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class ClusterWatch {
  private readonly templates: Watched<TemplateObject>;
  private readonly namespaces: Watched<V1Namespace>;
  private readonly synced = { templates: false, namespaces: false };
  /** Restarts in a row without a successful start, by informer: the backoff grows with them. */
  private readonly failures = { templates: 0, namespaces: 0 };
  private readonly listedOnce = { templates: false, namespaces: false };
  private readonly annotationsByObject = new WeakMap<V1Namespace, Record<string, string>>();
  private readonly custom: CustomObjectsApi;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly deps: ClusterWatchDeps) {
    const { config } = deps;
    this.custom = config.makeApiClient(CustomObjectsApi);
    const core = config.makeApiClient(CoreV1Api);
    this.templates = makeInformer(
      config,
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      this.listed('templates', () => this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }), () => this.deps.live.flush()),
    );
    this.namespaces = makeInformer(config, '/api/v1/namespaces', this.listed('namespaces', () => core.listNamespace()));
    this.wireTemplates();
    this.wire('namespaces', this.namespaces);
  }

  /** True once both informers have listed and are watching. */
  get ready(): boolean {
    return this.synced.templates && this.synced.namespaces;
  }

  async start(): Promise<void> {
    await Promise.all([this.startOne('templates', this.templates), this.startOne('namespaces', this.namespaces)]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.allSettled([this.templates.stop(), this.namespaces.stop()]);
  }

  /**
   * The podpattern annotations of a namespace, from the informer's cache. The same object until
   * the namespace changes (the informer then holds a new one), so callers can tell a change by identity.
   */
  namespaceAnnotations(namespace: string): Record<string, string> {
    const object = this.namespaces.get(namespace);
    if (object === undefined) return NO_ANNOTATIONS;
    let annotations = this.annotationsByObject.get(object);
    if (annotations === undefined) {
      const all = object.metadata?.annotations ?? {};
      annotations = Object.freeze(Object.fromEntries(Object.entries(all).filter(([key]) => isOwnKey(key))));
      this.annotationsByObject.set(object, annotations);
    }
    return annotations;
  }

  private wireTemplates(): void {
    const upsert = (object: TemplateObject): void => {
      const verdict = this.deps.live.upsert(object);
      if (verdict !== undefined) void this.recordVerdict(object, verdict);
    };
    this.templates.on('add', upsert);
    this.templates.on('update', upsert);
    this.templates.on('delete', (object) => {
      if (object.metadata?.name !== undefined) this.deps.live.remove(object.metadata.name);
    });
    this.wire('templates', this.templates);
  }

  /**
   * Wraps an informer's list call so that `synced` turns true, and `onListed` runs, only once
   * the list has been applied. client-node's informer emits 'connect' before it lists (on its
   * first start and again on every relist after an expired watch), so readiness taken from
   * 'connect' came before the catalog: an empty cluster layer was swapped in and pods asking for
   * a cluster template were denied until the debounce caught up. The informer applies the list
   * (its add, update and delete events) synchronously once the call resolves, so a callback
   * scheduled with setImmediate runs after all of them.
   */
  private listed<L>(which: keyof ClusterWatch['synced'], list: () => Promise<L>, onListed?: () => void): () => Promise<L> {
    return async () => {
      const result = await list();
      setImmediate(() => {
        if (this.stopped) return;
        onListed?.();
        this.listedOnce[which] = true;
        this.markSynced(which);
      });
      return result;
    };
  }

  private wire<T extends KubernetesObject>(which: keyof ClusterWatch['synced'], informer: Watched<T>): void {
    informer.on('error', (error) => {
      this.synced[which] = false;
      if (this.stopped) return;
      this.failures[which] += 1;
      const failures = this.failures[which];
      const delay = Math.min(this.deps.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(failures, 10));
      this.deps.logger.warn({ informer: which, err: describe(error), retryInMs: delay }, 'informer stopped; restarting');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.startOne(which, informer);
      }, delay);
      this.timers.add(timer);
    });
  }

  private async startOne<T extends KubernetesObject>(which: keyof ClusterWatch['synced'], informer: Watched<T>): Promise<void> {
    if (this.stopped) return;
    try {
      // Resolves once the informer has listed (when it had to) and its watch is open. A restart
      // after an error resumes the watch from the last version seen, without a list.
      await informer.start();
      if (!this.stopped && this.listedOnce[which]) this.markSynced(which);
    } catch (error) {
      // start() rejects when the first list fails; the informer's error handler restarts it.
      this.deps.logger.warn({ informer: which, err: describe(error) }, 'informer could not list');
    }
  }

  private markSynced(which: keyof ClusterWatch['synced']): void {
    this.failures[which] = 0;
    if (!this.synced[which]) this.deps.logger.info({ informer: which }, 'informer synced');
    this.synced[which] = true;
  }

  /** Writes Ready=True/False on the object when it differs from what the object shows. */
  private async recordVerdict(object: TemplateObject, verdict: TemplateVerdict): Promise<void> {
    const name = verdict.name;
    if (!verdict.valid) {
      this.deps.onInvalidTemplate?.(name);
      this.deps.logger.warn({ template: name, problems: verdict.problems }, 'PatternTemplate is invalid; its last good version stays in force');
    }
    const wanted = {
      type: 'Ready',
      status: verdict.valid ? 'True' : 'False',
      reason: verdict.valid ? 'Valid' : 'InvalidTemplate',
      message: verdict.valid ? 'the template is valid and in force' : verdict.problems.join('; ').slice(0, 4000),
    } as const;
    const current = object.status?.conditions?.find((c) => c.type === 'Ready');
    if (current?.status === wanted.status && current.reason === wanted.reason && current.message === wanted.message) return;
    const condition: Condition = { ...wanted, lastTransitionTime: (this.deps.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z') };
    if (object.metadata?.generation !== undefined) condition.observedGeneration = object.metadata.generation;
    try {
      await this.custom.patchClusterCustomObjectStatus(
        { group: GROUP, version: VERSION, plural: PLURAL, name, body: { status: { conditions: [condition] } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      this.deps.logger.warn({ template: name, err: describe(error) }, 'could not write the Ready condition');
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
