// The cluster source of the live catalog: PatternTemplates (template-watch.ts) and namespace
// defaults (namespace-defaults.ts), each followed by an informer that is restarted after errors
// (informer.ts), and the namespaces' LimitRanges (limit-ranges.ts). Ready only while the first
// two have listed and are watching. The informers are passed
// in; watchCluster builds the real ones from a kubeconfig (kube.ts).
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1LimitRange, type V1Namespace } from '#kube';
import type { Logger } from 'pino';
import type { InformerLike } from './informer.js';
import { conditionWriter, kubeInformer, policyWriter, templateList, TEMPLATES_PATH } from './kube.js';
import type { LiveCatalog } from './live.js';
import { NamespaceDefaults } from './namespace-defaults.js';
import { LimitRanges } from './limit-ranges.js';
import { TemplateWatch, type ConditionWriter, type TemplateObject } from './template-watch.js';
import { PolicyWatch, type PolicyObject } from './policy-watch.js';
import { PolicyController, type PolicyWriter } from './policy-controller.js';
import type { PolicyView } from '../model/policy.js';
import { POLICY_GROUP, POLICY_PLURAL } from '../model/policy.js';
import { TEMPLATE_VERSION } from '../model/template.js';

export { detectServerVersion, fetchServerVersion, loadKubeConfig } from './kube.js';

export interface ClusterWatchDeps {
  templates: InformerLike<TemplateObject>;
  namespaces: InformerLike<V1Namespace>;
  /** LimitRanges of all namespaces; without it the engine checks none (and says nothing). */
  limitRanges?: InformerLike<V1LimitRange>;
  /**
   * PatternPolicies of all namespaces; without it none is enforced. Not part of readiness: a
   * namespace whose policy cannot be read yet is refused pods (policy-watch.ts), the rest are served.
   */
  policies?: InformerLike<PolicyObject>;
  /** Writes policies' status and namespaces' podpattern.dev/policy label; without it nothing is written. */
  policyWriter?: PolicyWriter;
  writeCondition: ConditionWriter;
  live: LiveCatalog;
  logger: Logger;
  /** Counts templates refused at load (the catalog load errors metric). */
  onInvalidTemplate?: (name: string) => void;
  now?: () => Date;
  maxBackoffMs?: number;
}

export class ClusterWatch {
  private readonly templates: TemplateWatch;
  private readonly namespaces: NamespaceDefaults;
  private readonly limits: LimitRanges | undefined;
  private readonly policies: PolicyWatch | undefined;

  constructor(deps: ClusterWatchDeps) {
    const { logger, maxBackoffMs } = deps;
    this.templates = new TemplateWatch({
      informer: deps.templates,
      live: deps.live,
      writeCondition: deps.writeCondition,
      logger,
      onInvalidTemplate: deps.onInvalidTemplate,
      now: deps.now,
      maxBackoffMs,
    });
    this.namespaces = new NamespaceDefaults({ informer: deps.namespaces, logger, maxBackoffMs });
    this.limits = deps.limitRanges === undefined ? undefined : new LimitRanges({ informer: deps.limitRanges, logger, maxBackoffMs });
    const writer = deps.policyWriter;
    const controller =
      writer === undefined
        ? undefined
        : new PolicyController({
            writer,
            catalog: () => deps.live.current(),
            labels: (namespace) => this.namespaces.labels(namespace),
            logger,
            now: deps.now,
          });
    this.policies =
      deps.policies === undefined
        ? undefined
        : new PolicyWatch({
            informer: deps.policies,
            logger,
            maxBackoffMs,
            ...(controller === undefined ? {} : { onChange: (namespace, object) => controller.observe(namespace, object) }),
          });
  }

  /** True once both informers have listed and are watching. */
  get ready(): boolean {
    return this.templates.sync.synced && this.namespaces.sync.synced;
  }

  async start(): Promise<void> {
    await Promise.all([this.templates.sync.start(), this.namespaces.sync.start(), this.limits?.sync.start(), this.policies?.sync.start()]);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([
      this.templates.sync.stop(),
      this.namespaces.sync.stop(),
      this.limits?.sync.stop(),
      this.policies?.sync.stop(),
    ]);
  }

  /** The labels of a namespace, for templates' availability; undefined when not known. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.labels(namespace);
  }

  /** The catalog changed: every policy's status is worked out again. */
  catalogChanged(): void {
    this.policies?.replay();
  }

  /** The PatternPolicy a pod of `namespace` is held to (see PolicyWatch.view); none when policies are not followed. */
  policy(namespace: string): PolicyView {
    return this.policies?.view(namespace, this.namespaces.labels(namespace));
  }

  /** The LimitRanges of a namespace (see LimitRanges.of); undefined when they are not followed. */
  limitRanges(namespace: string): readonly V1LimitRange[] | 'unreadable' | undefined {
    return this.limits?.of(namespace);
  }

  /** The labels of every namespace; undefined until the namespaces are synced. */
  allNamespaceLabels(): Iterable<Readonly<Record<string, string>>> | undefined {
    return this.namespaces.allLabels();
  }

  /** The podpattern annotations of a namespace (see NamespaceDefaults.annotations). */
  namespaceAnnotations(namespace: string): Record<string, string> {
    return this.namespaces.annotations(namespace);
  }
}

export type WatchClusterDeps = Omit<ClusterWatchDeps, 'templates' | 'namespaces' | 'writeCondition'> & {
  config: KubeConfig;
  /** Also told of each PatternTemplate added or changed (the revision keeper); must not throw. */
  onTemplate?: (object: TemplateObject) => void;
};

/** A ClusterWatch on the cluster of `config`, with client-node's informers. */
export function watchCluster({ config, onTemplate, ...deps }: WatchClusterDeps): ClusterWatch {
  const core = config.makeApiClient(CoreV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const templates = kubeInformer<TemplateObject>(config, TEMPLATES_PATH, templateList(config));
  if (onTemplate !== undefined) {
    templates.on('add', onTemplate);
    templates.on('update', onTemplate);
  }
  return new ClusterWatch({
    ...deps,
    templates,
    namespaces: kubeInformer(config, '/api/v1/namespaces', () => core.listNamespace()),
    limitRanges: kubeInformer(config, '/api/v1/limitranges', () => core.listLimitRangeForAllNamespaces()),
    policies: kubeInformer<PolicyObject>(
      config,
      `/apis/${POLICY_GROUP}/${TEMPLATE_VERSION}/${POLICY_PLURAL}`,
      () => custom.listCustomObjectForAllNamespaces({ group: POLICY_GROUP, version: TEMPLATE_VERSION, plural: POLICY_PLURAL }) as never,
    ),
    writeCondition: conditionWriter(config),
    policyWriter: policyWriter(config),
  });
}
