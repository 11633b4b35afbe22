// The ControllerRevisions of podpattern's namespace, with @kubernetes/client-node.
import { ApiException, AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ControllerRevision } from '#kube';
import { PROMOTED_LABEL } from '../model/keys.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND, type TemplateSpec } from '../model/template.js';
import { MANAGED_BY, REVISION_HASH_KEY, type Revision, type RevisionStore } from './revisions.js';

export function kubeRevisionStore(config: KubeConfig, namespace: string): RevisionStore {
  const apps = config.makeApiClient(AppsV1Api);
  return {
    namespace,
    async list(template) {
      const list = await apps.listNamespacedControllerRevision({ namespace, labelSelector: `${MANAGED_BY}=podpattern` });
      return list.items.map(revisionOf).filter((r) => r.template === template);
    },
    async create(object) {
      try {
        await apps.createNamespacedControllerRevision({ namespace, body: object });
        return true;
      } catch (error) {
        if (error instanceof ApiException && error.code === 409) return false;
        throw error;
      }
    },
    async remove(name) {
      try {
        await apps.deleteNamespacedControllerRevision({ namespace, name });
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      }
    },
    async promote(name) {
      try {
        const body = { metadata: { labels: { [PROMOTED_LABEL]: 'true' } } };
        await apps.patchNamespacedControllerRevision({ namespace, name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
        return true;
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return false;
        throw error;
      }
    },
  };
}

export function revisionOf(item: V1ControllerRevision): Revision {
  const created = item.metadata?.creationTimestamp as unknown;
  return {
    name: item.metadata?.name ?? '',
    template: item.metadata?.ownerReferences?.find((r) => r.kind === TEMPLATE_KIND && r.apiVersion === TEMPLATE_API_VERSION)?.name ?? '',
    hash: item.metadata?.annotations?.[REVISION_HASH_KEY] ?? '',
    revision: Number(item.revision),
    created: created instanceof Date ? created.toISOString() : typeof created === 'string' ? created : undefined,
    spec: (item.data as { spec?: TemplateSpec } | undefined)?.spec,
    promoted: item.metadata?.labels?.[PROMOTED_LABEL] === 'true',
  };
}
