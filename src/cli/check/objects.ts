// `podpattern check KIND/NAME`: a pod or a workload read from the cluster, as kubectl names them
// (pod/web, deploy/web, statefulset/db, cj/render…). A kind check does not know is a usage
// error with the nearest kinds; an object that is not there, or that the credentials may not
// read, is a ClusterError saying which (the command exits 2 on it).
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig } from '#kube';
import { closest } from '../../engine/suggest.js';
import { UsageError } from '../common.js';
import { ClusterError, explainFailure, isNotFound } from '../kube/connect.js';

export type WorkloadKind = 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Job' | 'CronJob';

/** kubectl's names for each kind: singular, plural and short name. */
const KIND_NAMES: Record<string, WorkloadKind> = {
  pod: 'Pod',
  pods: 'Pod',
  po: 'Pod',
  deployment: 'Deployment',
  deployments: 'Deployment',
  deploy: 'Deployment',
  statefulset: 'StatefulSet',
  statefulsets: 'StatefulSet',
  sts: 'StatefulSet',
  daemonset: 'DaemonSet',
  daemonsets: 'DaemonSet',
  ds: 'DaemonSet',
  replicaset: 'ReplicaSet',
  replicasets: 'ReplicaSet',
  rs: 'ReplicaSet',
  job: 'Job',
  jobs: 'Job',
  cronjob: 'CronJob',
  cronjobs: 'CronJob',
  cj: 'CronJob',
};

export interface ObjectRef {
  kind: WorkloadKind;
  name: string;
  /** As the user wrote it, for messages. */
  text: string;
}

/** `KIND/NAME` (the kind in any of kubectl's spellings, with an optional `.apps`/`.batch` group). */
export function parseRef(text: string): ObjectRef {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1)
    throw new UsageError(`'${text}' is not KIND/NAME (pod/web, deploy/web, sts/db, ds/agent, rs/web-5d8c7, job/once, cj/nightly)`);
  const written = text
    .slice(0, slash)
    .toLowerCase()
    .replace(/\.(apps|batch)$/, '');
  const name = text.slice(slash + 1);
  const kind = KIND_NAMES[written];
  if (kind === undefined) {
    const nearest = closest(written, Object.keys(KIND_NAMES));
    const hint = nearest === undefined ? '' : ` (did you mean ${nearest}/${name}?)`;
    throw new UsageError(
      `check reads pods and workloads, not '${written}'${hint}: pod, deployment, statefulset, daemonset, replicaset, job, cronjob (or their short names)`,
    );
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw new UsageError(`'${name}' is not a Kubernetes object name`);
  return { kind, name, text };
}

/** Reads the object; a ClusterError says whether it is absent or not readable with these credentials. */
export async function readObject(config: KubeConfig, ref: ObjectRef, namespace: string): Promise<Record<string, unknown>> {
  const request = { name: ref.name, namespace };
  const read = (): Promise<unknown> => {
    switch (ref.kind) {
      case 'Pod':
        return config.makeApiClient(CoreV1Api).readNamespacedPod(request);
      case 'Deployment':
        return config.makeApiClient(AppsV1Api).readNamespacedDeployment(request);
      case 'StatefulSet':
        return config.makeApiClient(AppsV1Api).readNamespacedStatefulSet(request);
      case 'DaemonSet':
        return config.makeApiClient(AppsV1Api).readNamespacedDaemonSet(request);
      case 'ReplicaSet':
        return config.makeApiClient(AppsV1Api).readNamespacedReplicaSet(request);
      case 'Job':
        return config.makeApiClient(BatchV1Api).readNamespacedJob(request);
      case 'CronJob':
        return config.makeApiClient(BatchV1Api).readNamespacedCronJob(request);
    }
  };
  try {
    // The typed client turns dates into Date objects: back to the JSON the API server sent.
    const object = JSON.parse(JSON.stringify(await read())) as Record<string, unknown>;
    return { ...object, kind: ref.kind };
  } catch (error) {
    if (isNotFound(error))
      throw new ClusterError(
        `${ref.text} not found in namespace ${namespace} (kubectl get ${ref.kind.toLowerCase()}s -n ${namespace} lists them; -n chooses the namespace)`,
      );
    throw new ClusterError(explainFailure(error, `read ${ref.text} in namespace ${namespace}`, config));
  }
}
