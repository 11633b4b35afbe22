// The template revisions as the server serves them (impact/served-revisions.ts), read with one
// list of the ControllerRevisions in podpattern's namespace, for `check` and `status` to say which
// revision of a template in canary each namespace gets.
import { AppsV1Api, type KubeConfig } from '#kube';
import { MANAGED_BY } from '../../impact/revisions.js';
import { ServedRevisions } from '../../impact/served-revisions.js';
import { explainFailure } from './connect.js';

/** The revisions, or why they could not be read. */
export async function readServedRevisions(config: KubeConfig, namespace: string): Promise<ServedRevisions | { problem: string }> {
  try {
    const list = await config
      .makeApiClient(AppsV1Api)
      .listNamespacedControllerRevision({ namespace, labelSelector: `${MANAGED_BY}=podpattern` });
    const served = new ServedRevisions();
    for (const item of list.items) served.put(item);
    served.listed = true;
    return served;
  } catch (error) {
    return { problem: explainFailure(error, `list ControllerRevisions in ${namespace}`, config) };
  }
}
