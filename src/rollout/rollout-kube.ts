// The rollout controller's side of the API, with @kubernetes/client-node: the cluster's
// PatternTemplates (listed; the pause annotation and the status written with merge patches), the
// templates' ControllerRevisions in podpattern's namespace (the promoted label), namespaces'
// labels, workloads read whole (their status is the health gate's), the pods their selector
// selects, and the restart healing makes (heal-kube.ts).
import {
  AppsV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1LabelSelector,
  type V1Pod,
} from '#kube';
import { patchRestart } from '../heal/heal-kube.js';
import type { RestartableKind } from '../heal/missed.js';
import { METADATA_LIST_ACCEPT, ownerLookup } from '../impact/pod-kube.js';
import { kubeRevisionStore } from '../impact/revisions-kube.js';
import { TEMPLATE_GROUP, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';
import type { RolloutApi, TemplateObject } from './api.js';
import { PAUSED_KEY, type PodState, type WorkloadState } from './plan.js';

const TEMPLATES = { group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL };

export function kubeRolloutApi(config: KubeConfig, namespace: string): RolloutApi {
  const core = config.makeApiClient(CoreV1Api);
  const apps = config.makeApiClient(AppsV1Api);
  const custom = config.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const revisions = kubeRevisionStore(config, namespace);
  return {
    async templates() {
      const list = (await custom.listClusterCustomObject(TEMPLATES)) as { items?: TemplateObject[] };
      return list.items ?? [];
    },
    async revisions(template) {
      return (await revisions.list(template)).map(({ name, hash, revision, promoted }) => ({ name, hash, revision, promoted }));
    },
    // The label `podpattern rollout promote` writes, through the same store.
    promote: (revision) => revisions.promote(revision),
    async namespaceLabels() {
      const list = await core.listNamespace({}, setHeaderOptions('Accept', METADATA_LIST_ACCEPT));
      return new Map(list.items.map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
    },
    controllerOf: ownerLookup(config),
    async readWorkload(ns, kind, name) {
      try {
        const read = { namespace: ns, name };
        const object =
          kind === 'Deployment'
            ? await apps.readNamespacedDeployment(read)
            : kind === 'StatefulSet'
              ? await apps.readNamespacedStatefulSet(read)
              : await apps.readNamespacedDaemonSet(read);
        return workloadState(kind, object as unknown as WorkloadObject);
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    restart: (ns, kind, name, resourceVersion, at) => patchRestart(apps, { namespace: ns, kind, name, resourceVersion }, at),
    async pods(ns, selector) {
      const list = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
      return list.items.map(podState);
    },
    async pause(template, reason) {
      await custom.patchClusterCustomObject(
        { ...TEMPLATES, name: template, body: { metadata: { annotations: { [PAUSED_KEY]: reason } } } },
        merge,
      );
    },
    async writeStatus(template, rollout, conditions) {
      // A merge patch merges objects key by key: fields the rollout no longer has are removed with null.
      const body = { status: { rollout: { promoted: null, soakSince: null, ...rollout }, conditions } };
      await custom.patchClusterCustomObjectStatus({ ...TEMPLATES, name: template, body }, merge);
    },
  };
}

type WorkloadObject = {
  metadata?: { uid?: string; generation?: number; resourceVersion?: string };
  spec?: { replicas?: number; selector?: V1LabelSelector; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } } };
  status?: WorkloadState['status'];
};

export function workloadState(kind: RestartableKind, object: WorkloadObject): WorkloadState {
  const spec = object.spec ?? {};
  return {
    kind,
    uid: object.metadata?.uid ?? '',
    generation: object.metadata?.generation ?? 0,
    resourceVersion: object.metadata?.resourceVersion ?? '',
    selector: selectorString(spec.selector),
    spec: {
      ...(spec.replicas === undefined ? {} : { replicas: spec.replicas }),
      ...(spec.updateStrategy === undefined ? {} : { updateStrategy: spec.updateStrategy }),
    },
    status: object.status ?? {},
  };
}

/**
 * A LabelSelector as the label selector string a list takes
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors);
 * undefined for none or an empty one (a workload always has one; selecting every pod is never meant).
 */
export function selectorString(selector: V1LabelSelector | undefined): string | undefined {
  const terms: string[] = Object.entries(selector?.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    if (operator === 'In') terms.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') terms.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') terms.push(key);
    else if (operator === 'DoesNotExist') terms.push(`!${key}`);
    else return undefined;
  }
  return terms.length === 0 ? undefined : terms.join(',');
}

function podState(pod: V1Pod): PodState {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return {
    name: pod.metadata?.name ?? '',
    annotations: pod.metadata?.annotations ?? {},
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    restarts: statuses.map((s) => ({ name: s.name, restartCount: s.restartCount ?? 0 })),
  };
}
