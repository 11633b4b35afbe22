// Healing's side of the API, with @kubernetes/client-node: the `enabled` namespaces, their
// running and pending pods as metadata only (PartialObjectMetadataList, as the index of injected
// pods reads them), a workload's metadata, and the restart: one merge patch that sets the pod
// template's kubectl.kubernetes.io/restartedAt (what `kubectl rollout restart` sets) and the
// workload's podpattern.dev/healed record, conditional on the resourceVersion read (a workload
// changed in between is not touched; the next pass looks again).
import { ApiException, AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ObjectMeta } from '#kube';
import { HEALED_KEY, INJECTION_LABEL, RESTARTED_AT_KEY } from '../model/keys.js';
import { METADATA_ACCEPT, METADATA_LIST_ACCEPT, ownerLookup } from '../impact/pod-kube.js';
import { formatHealRecord, type PodMeta, type RestartableKind } from './missed.js';
import type { HealApi, WorkloadMeta } from './healer.js';

/** Finished pods run nothing to heal (a field selector pods support). */
const RUNNING_OR_PENDING = 'status.phase!=Succeeded,status.phase!=Failed';
const PAGE = 500;

export function kubeHealApi(config: KubeConfig): HealApi {
  const core = config.makeApiClient(CoreV1Api);
  const apps = config.makeApiClient(AppsV1Api);
  const listAccept = setHeaderOptions('Accept', METADATA_LIST_ACCEPT);
  const accept = setHeaderOptions('Accept', METADATA_ACCEPT);
  const lookup = ownerLookup(config);
  return {
    async enabledNamespaces() {
      const list = await core.listNamespace({ labelSelector: `${INJECTION_LABEL}=enabled` }, listAccept);
      return list.items.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
    },
    async pods(namespace) {
      const pods: PodMeta[] = [];
      let next: string | undefined;
      do {
        const page = await core.listNamespacedPod(
          { namespace, fieldSelector: RUNNING_OR_PENDING, limit: PAGE, ...(next === undefined ? {} : { _continue: next }) },
          listAccept,
        );
        for (const item of page.items) pods.push(podMeta(namespace, item.metadata));
        next = page.metadata?._continue || undefined;
      } while (next !== undefined);
      return pods;
    },
    controllerOf: lookup,
    async readWorkload(namespace, kind, name) {
      try {
        const read = { name, namespace };
        const object =
          kind === 'Deployment'
            ? await apps.readNamespacedDeployment(read, accept)
            : kind === 'StatefulSet'
              ? await apps.readNamespacedStatefulSet(read, accept)
              : await apps.readNamespacedDaemonSet(read, accept);
        return workloadMeta(object.metadata);
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    restart: (namespace, kind, name, resourceVersion, record) =>
      patchRestart(apps, { namespace, kind, name, resourceVersion }, record.at, { [HEALED_KEY]: formatHealRecord(record) }),
  };
}

/**
 * The restart `kubectl rollout restart` makes: a merge patch that sets the pod template's
 * kubectl.kubernetes.io/restartedAt to `at`, with `annotations` on the workload itself in the
 * same patch, conditional on `resourceVersion` when given. Healing, the rollout controller and
 * `podpattern rollout undo --restart` restart through it.
 */
export async function patchRestart(
  apps: AppsV1Api,
  workload: { namespace: string; kind: RestartableKind; name: string; resourceVersion?: string },
  at: number,
  annotations?: Record<string, string>,
): Promise<void> {
  const { namespace, kind, name, resourceVersion } = workload;
  const body = {
    metadata: { ...(resourceVersion === undefined ? {} : { resourceVersion }), ...(annotations === undefined ? {} : { annotations }) },
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_KEY]: new Date(at).toISOString() } } } },
  };
  const patch = { name, namespace, body };
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  if (kind === 'Deployment') await apps.patchNamespacedDeployment(patch, merge);
  else if (kind === 'StatefulSet') await apps.patchNamespacedStatefulSet(patch, merge);
  else await apps.patchNamespacedDaemonSet(patch, merge);
}

function podMeta(namespace: string, metadata: V1ObjectMeta | undefined): PodMeta {
  const controller = (metadata?.ownerReferences ?? []).find((r) => r.controller === true);
  const created = metadata?.creationTimestamp;
  return {
    namespace,
    name: metadata?.name ?? '',
    uid: metadata?.uid ?? '',
    createdAt: created === undefined ? 0 : new Date(created).getTime(),
    annotations: metadata?.annotations ?? {},
    owner: controller === undefined ? undefined : { kind: controller.kind, name: controller.name },
  };
}

function workloadMeta(metadata: V1ObjectMeta | undefined): WorkloadMeta {
  return {
    uid: metadata?.uid ?? '',
    generation: metadata?.generation ?? 0,
    resourceVersion: metadata?.resourceVersion ?? '',
    annotations: metadata?.annotations ?? {},
  };
}
