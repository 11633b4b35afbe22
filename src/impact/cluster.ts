// The impact check's cluster side, made once by main.ts when the server has credentials: the
// index of injected pods and its metadata watch, the owner lookups, the revision keeper, the
// revisions served outside templates' canaries (followed by a watch) and the
// Event writer for forced changes. Readiness never waits for any of it: the check says "not
// checked" until the index has listed. The Event writer for forced changes is main.ts's to pass in.
import { AppsV1Api, type KubeConfig, type V1ControllerRevision } from '#kube';
import { kubeInformer } from '../catalog/kube.js';
import type { Logger } from 'pino';
import type { LiveCatalog } from '../catalog/live.js';
import type { InjectOptions } from '../engine/types.js';
import type { InjectFunction } from './check.js';
import { OwnerResolver } from './owners.js';
import { InjectedPodIndex } from './pod-index.js';
import { ownerLookup, podMetadataClient } from './pod-kube.js';
import { PodWatch } from './pod-watch.js';
import type { ForcedChange, ImpactDeps } from './review.js';
import { MANAGED_BY, RevisionRecorder } from './revisions.js';
import { kubeRevisionStore } from './revisions-kube.js';
import { RevisionWatch } from './revision-watch.js';

/** Where podpattern keeps its revisions when the kubeconfig names no namespace (the chart's default). */
const DEFAULT_NAMESPACE = 'podpattern';

/** podpattern's own namespace: in a pod, the in-cluster kubeconfig's context carries the service account's. */
export function podpatternNamespace(config: KubeConfig): string {
  return config.getContextObject(config.getCurrentContext())?.namespace ?? DEFAULT_NAMESPACE;
}

export interface ClusterImpact {
  deps: ImpactDeps;
  index: InjectedPodIndex;
  revisions: RevisionRecorder;
  /** The revisions every replica serves outside templates' canary namespaces (readiness waits for its first list). */
  served: RevisionWatch;
  start(): void;
  stop(): void;
}

export function clusterImpact(input: {
  config: KubeConfig;
  live: LiveCatalog;
  logger: Logger;
  inject: InjectFunction;
  options: (namespace: string) => InjectOptions;
  recordForced: (change: ForcedChange) => void;
  namespaceLabels?: () => Iterable<Readonly<Record<string, string>>> | undefined;
}): ClusterImpact {
  const { config, live, logger } = input;
  const resolver = new OwnerResolver({
    lookup: ownerLookup(config),
    onError: (error, namespace, owner) =>
      logger.debug(
        { namespace, owner: `${owner.kind}/${owner.name}`, err: error instanceof Error ? error.message : String(error) },
        'cannot read the workload of a pod owner',
      ),
  });
  const index = new InjectedPodIndex({ resolver });
  const watch = new PodWatch({ client: podMetadataClient(config), index, logger });
  const namespace = podpatternNamespace(config);
  const revisions = new RevisionRecorder(kubeRevisionStore(config, namespace), logger);
  const apps = config.makeApiClient(AppsV1Api);
  const managed = `${MANAGED_BY}=podpattern`;
  const served = new RevisionWatch({
    informer: kubeInformer<V1ControllerRevision>(
      config,
      `/apis/apps/v1/namespaces/${namespace}/controllerrevisions`,
      () => apps.listNamespacedControllerRevision({ namespace, labelSelector: managed }),
      managed,
    ),
    logger,
  });
  return {
    index,
    revisions,
    served,
    deps: {
      index,
      preview: (name, template) => live.preview(name, template),
      inject: input.inject,
      options: input.options,
      recordForced: input.recordForced,
      ...(input.namespaceLabels === undefined ? {} : { namespaceLabels: input.namespaceLabels }),
    },
    start: () => {
      watch.start();
      void served.sync.start();
    },
    stop: () => {
      watch.stop();
      void served.sync.stop();
    },
  };
}
