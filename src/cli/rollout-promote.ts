// `podpattern rollout promote NAME` (dispatched by rollout.ts): serves a cluster template's current spec everywhere, now,
// instead of only in its canary namespaces. It labels the template's current revision (the
// ControllerRevision podpattern keeps in its namespace) podpattern.dev/promoted=true, which every
// replica follows, and clears a paused rollout (podpattern.dev/rollout-paused). Workloads outside
// the canary keep running the promoted revision they were injected with until they are
// restarted (`podpattern status` lists them; with restart: auto the rollout controller does it).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '#kube';
import { templateOfObject } from '../catalog/live.js';
import { validateTemplate } from '../catalog/validate.js';
import { kubeRevisionStore } from '../impact/revisions-kube.js';
import { ROLLOUT_PAUSED_KEY } from '../model/keys.js';
import { TEMPLATE_GROUP, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';
import { call } from './kube/connect.js';

/**
 * Promotes the current revision of the template `object` (read by the caller): exit 0 with what
 * was done, or 1 with why there is nothing to promote. A cluster that refuses a write is a
 * ClusterError.
 */
export async function promote(
  config: KubeConfig,
  object: { metadata?: { annotations?: Record<string, string> } },
  name: string,
  namespace: string,
): Promise<{ code: 0 | 1; message: string }> {
  const custom = config.makeApiClient(CustomObjectsApi);
  const coordinates = { group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL, name };
  const verdict = validateTemplate(templateOfObject(object), 'cluster', name);
  if (!verdict.ok)
    return {
      code: 1,
      message: `PatternTemplate ${name} is invalid, so podpattern serves its last good version, which promote cannot name: ${verdict.problems.slice(0, 3).join('; ')}`,
    };
  const template = verdict.template;
  if (template.rollout?.canary === undefined)
    return {
      code: 1,
      message: `PatternTemplate ${name} has no spec.rollout.canary: every namespace gets each accepted spec at once, so there is nothing to promote`,
    };
  const store = kubeRevisionStore(config, namespace);
  const revisions = await call(`list ControllerRevisions in ${namespace}`, config, () => store.list(name));
  const current = revisions.find((r) => r.hash === template.hash);
  if (current === undefined) {
    return {
      code: 1,
      message: `no revision of ${name} with its current hash ${template.hash} in ${namespace} yet: podpattern keeps one when it sees the spec (is podpattern running in ${namespace}? --podpattern-namespace names another; podpattern templates history ${name} lists those kept)`,
    };
  }
  const paused = object.metadata?.annotations?.[ROLLOUT_PAUSED_KEY] !== undefined;
  if (current.promoted && !paused)
    return { code: 1, message: `revision ${current.revision} (${current.hash}) of ${name} is already promoted: every namespace gets it` };
  if (!current.promoted) {
    const found = await call(`label ControllerRevision ${namespace}/${current.name} promoted`, config, () => store.promote(current.name));
    if (!found)
      return {
        code: 1,
        message: `ControllerRevision ${namespace}/${current.name} was deleted meanwhile; run it again once podpattern has kept the revision again`,
      };
  }
  if (paused) {
    await call(`clear ${ROLLOUT_PAUSED_KEY} on PatternTemplate ${name}`, config, () =>
      custom.patchClusterCustomObject(
        { ...coordinates, body: { metadata: { annotations: { [ROLLOUT_PAUSED_KEY]: null } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }
  const what = current.promoted
    ? `revision ${current.revision} (${current.hash}) of ${name} was already promoted`
    : `promoted revision ${current.revision} (${current.hash}) of ${name}: every namespace gets it from now on`;
  return {
    code: 0,
    message: `${what}${paused ? `; cleared ${ROLLOUT_PAUSED_KEY}` : ''}. Running pods keep the revision they were injected with until restarted (podpattern status lists them)`,
  };
}
