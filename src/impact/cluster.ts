// The impact check's cluster side, made once by main.ts when the server has credentials: the
// index of injected pods and its metadata watch, the owner lookups, the revision keeper and the
// Event writer for forced changes. Readiness never waits for any of it: the check says "not
// checked" until the index has listed. The Event writer for forced changes is main.ts's to pass in.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { LiveCatalog } from '../catalog/live.js';
import type { InjectOptions } from '../engine/types.js';
import type { InjectFunction } from './check.js';
import { OwnerResolver } from './owners.js';
import { InjectedPodIndex } from './pod-index.js';
import { ownerLookup, podMetadataClient } from './pod-kube.js';
import { PodWatch } from './pod-watch.js';
import type { ForcedChange, ImpactDeps } from './review.js';
import { RevisionRecorder } from './revisions.js';
import { kubeRevisionStore } from './revisions-kube.js';

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
  return {
    index,
    revisions,
    deps: {
      index,
      preview: (name, template) => live.preview(name, template),
      inject: input.inject,
      options: input.options,
      recordForced: input.recordForced,
      ...(input.namespaceLabels === undefined ? {} : { namespaceLabels: input.namespaceLabels }),
    },
    start: () => watch.start(),
    stop: () => watch.stop(),
  };
}
