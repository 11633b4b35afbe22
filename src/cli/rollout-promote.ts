// `podpattern rollout promote NAME`: serves a cluster template's current spec everywhere, now,
// instead of only in its canary namespaces. It labels the template's current revision (the
// ControllerRevision podpattern keeps in its namespace) podpattern.dev/promoted=true, which every
// replica follows, and clears a paused rollout (podpattern.dev/rollout-paused). Workloads outside
// the canary keep running the promoted revision they were injected with until they are
// restarted (`podpattern status` lists them; with restart: auto the rollout controller does it).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { templateOfObject } from '../catalog/live.js';
import { validateTemplate } from '../catalog/validate.js';
import { kubeRevisionStore } from '../impact/revisions-kube.js';
import { PROMOTED_LABEL, ROLLOUT_PAUSED_KEY } from '../model/keys.js';
import { TEMPLATE_GROUP, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';
import { parseTemplateArguments, processIo, type Io } from './common.js';
import { ClusterError, call, connect, explainFailure, isNotFound } from './kube/connect.js';

const HELP = `usage: podpattern rollout promote NAME [--podpattern-namespace NS] [--kubeconfig FILE] [--context NAME]

Serves the current spec of the cluster PatternTemplate NAME in every namespace, not only in its
canary namespaces (spec.rollout.canary): labels its current revision ${PROMOTED_LABEL}=true
and clears ${ROLLOUT_PAUSED_KEY}. Pods created from then on get it everywhere; running
pods keep what they were injected with until restarted (podpattern status lists them).
Needs permission to patch ControllerRevisions in podpattern's namespace and PatternTemplates.
  --podpattern-namespace   where podpattern runs and keeps the revisions (default podpattern)
Exit 0 when promoted; 1 when there is nothing to promote (no such template, no canary, already
promoted, its current revision not kept yet) or the cluster refused; 2 on a usage error.
`;

export async function runPromote(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseTemplateArguments('rollout promote', argv, HELP, io);
  if ('exit' in parsed) return parsed.exit;
  try {
    const config = connect(parsed.kubeconfig, parsed.context);
    const outcome = await promote(config, parsed.name, parsed.podpatternNamespace);
    (outcome.code === 0 ? io.stdout : io.stderr)(`${outcome.code === 0 ? '' : 'podpattern rollout promote: '}${outcome.message}\n`);
    return outcome.code;
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern rollout promote: ${error.message}\n`);
    return 1;
  }
}

async function promote(config: KubeConfig, name: string, namespace: string): Promise<{ code: 0 | 1; message: string }> {
  const custom = config.makeApiClient(CustomObjectsApi);
  const coordinates = { group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL, name };
  let object: { metadata?: { annotations?: Record<string, string> } };
  try {
    object = (await custom.getClusterCustomObject(coordinates)) as typeof object;
  } catch (error) {
    if (isNotFound(error))
      return { code: 1, message: `no PatternTemplate ${name} in the cluster (kubectl get patterntemplates lists them)` };
    throw new ClusterError(explainFailure(error, `read PatternTemplate ${name}`, config));
  }
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
