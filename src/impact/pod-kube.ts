// The client-node side of the index of injected pods: a list and a watch of pods as
// PartialObjectMetadata (the API server sends metadata only when the Accept header asks for it:
// https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
// describes the same content negotiation, and meta.k8s.io/v1 PartialObjectMetadata is what
// client-go's metadata client asks for), and the owner lookups of ReplicaSets and Jobs.
import { ApiException, AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, Watch, setHeaderOptions, type V1ObjectMeta } from '#kube';
import type { MetadataClient, WatchEvent } from './pod-watch.js';
import type { OwnerLookup } from './owners.js';
import type { OwnerRef } from './pod-record.js';

export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export function podMetadataClient(config: KubeConfig): MetadataClient {
  const core = config.makeApiClient(CoreV1Api);
  // client-node's Watch takes its headers from the config: this one asks for metadata only.
  const metadataConfig = Object.create(config) as KubeConfig;
  metadataConfig.applyToFetchOptions = async (options) => {
    const init = await config.applyToFetchOptions(options);
    (init.headers as unknown as { set(key: string, value: string): void }).set('Accept', METADATA_ACCEPT);
    return init;
  };
  const watch = new Watch(metadataConfig);
  return {
    async list(page) {
      const list = await core.listPodForAllNamespaces(
        { labelSelector: page.labelSelector, limit: page.limit, ...(page.continue === undefined ? {} : { _continue: page.continue }) },
        setHeaderOptions('Accept', METADATA_LIST_ACCEPT),
      );
      return {
        items: list.items,
        metadata: {
          ...(list.metadata?.resourceVersion === undefined ? {} : { resourceVersion: list.metadata.resourceVersion }),
          ...(list.metadata?._continue === undefined ? {} : { continue: list.metadata._continue }),
        },
      };
    },
    async watch(from, onEvent, onDone) {
      return watch.watch(
        '/api/v1/pods',
        { labelSelector: from.labelSelector, resourceVersion: from.resourceVersion, allowWatchBookmarks: true },
        (type: string, object: WatchEvent['object']) => onEvent({ type, object }),
        onDone,
      );
    },
  };
}

/** The controller of a ReplicaSet or Job, read as metadata; null when it has none or is gone. */
export function ownerLookup(config: KubeConfig): OwnerLookup {
  const apps = config.makeApiClient(AppsV1Api);
  const batch = config.makeApiClient(BatchV1Api);
  const accept = setHeaderOptions('Accept', METADATA_ACCEPT);
  return async (namespace, owner) => {
    let metadata: V1ObjectMeta | undefined;
    try {
      if (owner.kind === 'ReplicaSet') metadata = (await apps.readNamespacedReplicaSet({ namespace, name: owner.name }, accept)).metadata;
      else if (owner.kind === 'Job') metadata = (await batch.readNamespacedJob({ namespace, name: owner.name }, accept)).metadata;
      else return null;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return null;
      throw error;
    }
    const references = metadata?.ownerReferences ?? [];
    const controller = references.find((r) => r.controller === true);
    return controller === undefined ? null : ({ kind: controller.kind, name: controller.name } satisfies OwnerRef);
  };
}
