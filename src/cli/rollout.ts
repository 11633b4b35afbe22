// `podpattern rollout status|pause|resume|promote|undo NAME`: a cluster PatternTemplate's
// rollout as the leader's rollout controller records it in the template's status
// (src/rollout/), and the hands on it: the pause annotation, and undo (the template's spec put
// back to the promoted, else the previous, revision kept as a ControllerRevision).
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '#kube';
import { templateOfObject } from '../catalog/live.js';
import { validateTemplate } from '../catalog/validate.js';
import { patchRestart } from '../heal/heal-kube.js';
import { isRestartable, type RestartableKind } from '../heal/missed.js';
import type { Revision } from '../impact/revisions.js';
import { kubeRevisionStore } from '../impact/revisions-kube.js';
import { PROMOTED_LABEL } from '../model/keys.js';
import { TEMPLATE_GROUP, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';
import type { TemplateObject } from '../rollout/api.js';
import {
  MAX_REASON,
  PAUSED_CONDITION,
  PAUSED_KEY,
  oneLine,
  readRolloutStatus,
  rolloutSettings,
  type RolloutStatus,
} from '../rollout/plan.js';
import { CLUSTER_FLAGS, parseFlags, processIo, type Io } from './common.js';
import { promote } from './rollout-promote.js';
import { ClusterError, call, connect, explainFailure, isNotFound } from './kube/connect.js';
import { rollCommand } from './status/inventory.js';
import { readIndex } from './templates-diff.js';

const HELP = `usage: podpattern rollout status|pause|resume|promote|undo NAME [flags]

How a changed cluster PatternTemplate reaches the workloads already running it (its
spec.rollout). With restart: auto, the podpattern replica holding the podpattern-controllers
Lease restarts them, canary namespaces first, each behind a health gate.
  status NAME    the phase, the revision and the promoted one, and per workload what happened
  pause NAME     restart nothing more (--reason says why; kept in the ${PAUSED_KEY} annotation)
  resume NAME    go on where it stopped
  promote NAME   serve the current revision outside the canary namespaces too (labels it
                 ${PROMOTED_LABEL}, as the controller does after the soak) and resume
  undo NAME      make the promoted revision (else the previous one) current again and resume;
                 with restart: auto the controller restarts what the undone revision reached,
                 with restart: manual they are printed, or restarted with --restart
Flags:
  --reason TEXT              pause: why, one line (at most ${MAX_REASON} characters)
  --restart                  undo: restart what the undone revision reached (restart: manual)
  --podpattern-namespace NS  where podpattern keeps the revisions (default podpattern)
  --kubeconfig FILE, --context NAME
Exit codes: 0 done (status: the rollout is not paused and no workload failed); 1 status: paused
or a workload failed its gate, promote: nothing to promote (no canary, already promoted, the
current revision not kept yet), undo: no revision to go back to; 2 bad usage; 3 the cluster could
not be read or written (no such template, no permission, unreachable).
`;

const VERBS = ['status', 'pause', 'resume', 'promote', 'undo'] as const;
type Verb = (typeof VERBS)[number];

interface Flags {
  reason?: string;
  restart?: boolean;
  'podpattern-namespace'?: string;
  kubeconfig?: string;
  context?: string;
}

/** A verb's work once the template is named and the cluster reached; returns the exit code. */
type Action = (config: KubeConfig, name: string, flags: Flags, io: Io) => Promise<number>;

const ACTIONS: Record<Verb, Action> = {
  status,
  pause,
  resume,
  promote: async (config, name, flags, io) => {
    const outcome = await promote(config, await readTemplate(config, name), name, flags['podpattern-namespace'] ?? 'podpattern');
    if (outcome.code === 0) io.stdout(`${outcome.message}\n`);
    else io.stderr(`podpattern rollout promote: ${outcome.message}\n`);
    return outcome.code;
  },
  undo,
};

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const [verb, name, ...rest] = argv;
  if (verb === '--help' || verb === '-h') return (io.stdout(HELP), 0);
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb)) {
    io.stderr(`podpattern rollout: give one of ${VERBS.join(', ')}${verb === undefined ? '' : `, not '${verb.slice(0, 64)}'`}\n${HELP}`);
    return 2;
  }
  if (name === '--help' || name === '-h') return (io.stdout(HELP), 0);
  if (name === undefined || name.startsWith('-')) {
    io.stderr(`podpattern rollout ${verb}: give the template's NAME\n${HELP}`);
    return 2;
  }
  const parsed = parseFlags<Flags>(
    `rollout ${verb}`,
    rest,
    {
      reason: { type: 'string' },
      restart: { type: 'boolean' },
      ...CLUSTER_FLAGS,
    },
    HELP,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  if (parsed.values.reason !== undefined && verb !== 'pause') return usage(io, verb, '--reason goes with pause');
  if (parsed.values.restart === true && verb !== 'undo') return usage(io, verb, '--restart goes with undo');
  if (parsed.values.reason !== undefined && oneLine(parsed.values.reason) === '') return usage(io, verb, '--reason is empty');
  try {
    return await ACTIONS[verb as Verb](connect(parsed.values.kubeconfig, parsed.values.context), name, parsed.values, io);
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern rollout ${verb}: ${error.message}\n`);
    return 3;
  }
}

function usage(io: Io, verb: string, message: string): number {
  io.stderr(`podpattern rollout ${verb}: ${message}\n`);
  return 2;
}

const TEMPLATES = { group: TEMPLATE_GROUP, version: TEMPLATE_VERSION, plural: TEMPLATE_PLURAL };
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function readTemplate(config: KubeConfig, name: string): Promise<TemplateObject & { metadata: { resourceVersion?: string } }> {
  const custom = config.makeApiClient(CustomObjectsApi);
  try {
    return (await custom.getClusterCustomObject({ ...TEMPLATES, name })) as TemplateObject & { metadata: { resourceVersion?: string } };
  } catch (error) {
    if (isNotFound(error)) throw new ClusterError(`no cluster PatternTemplate ${name} (kubectl get patterntemplates lists them)`);
    throw new ClusterError(explainFailure(error, `read PatternTemplate ${name}`, config));
  }
}

async function status(config: KubeConfig, name: string, _flags: Flags, io: Io): Promise<number> {
  const object = await readTemplate(config, name);
  const settings = rolloutSettings((object.spec as { rollout?: unknown } | undefined)?.rollout);
  const rollout = readRolloutStatus(object.status?.rollout);
  const pausedWhy = object.metadata?.annotations?.[PAUSED_KEY];
  const lines: string[] = [];
  const canary =
    settings.canary === undefined
      ? 'no canary'
      : `canary ${JSON.stringify(settings.canary.namespaceSelector)} soaking ${settings.canary.soakMs / 1000}s`;
  lines.push(
    `template ${name}: restart ${settings.restart}, ${canary}, maxConcurrent ${settings.maxConcurrent}, healthTimeoutSeconds ${settings.healthTimeoutMs / 1000}, maxInjectedRestarts ${settings.maxInjectedRestarts}`,
  );
  if (pausedWhy !== undefined)
    lines.push(
      `paused: ${oneLine(pausedWhy)}`,
      `  resume with: podpattern rollout resume ${name}; go back with: podpattern rollout undo ${name}`,
    );
  if (rollout === undefined) {
    lines.push(
      settings.restart === 'auto'
        ? "phase: not started (the rollout controller has not written this template's status yet: is podpattern running with --controllers=on and --rollout=on?)"
        : 'phase: none (restart manual: podpattern status lists the workloads running an older revision, with the command that rolls each)',
    );
    io.stdout(`${lines.join('\n')}\n`);
    return pausedWhy === undefined ? 0 : 1;
  }
  lines.push(`phase: ${rollout.phase}${rollout.message === '' ? '' : ` (${rollout.message})`}`);
  lines.push(
    `revision: ${rollout.revision}, promoted: ${rollout.promoted ?? 'none'}${rollout.promoted !== undefined && rollout.promoted !== rollout.revision ? ' (the other namespaces get the promoted revision)' : ''}`,
  );
  const condition = object.status?.conditions?.find((c) => c.type === PAUSED_CONDITION);
  if (condition !== undefined) lines.push(`condition ${PAUSED_CONDITION}: ${condition.status} (${condition.reason})`);
  lines.push(...workloadTable(rollout));
  io.stdout(`${lines.join('\n')}\n`);
  const failed = rollout.restarted.some((e) => (e.result === 'failed' || e.result === 'refused') && e.hash === rollout.revision);
  return pausedWhy !== undefined || rollout.phase === 'Paused' || failed ? 1 : 0;
}

/** Per workload what happened, as a table. */
function workloadTable(rollout: RolloutStatus): string[] {
  if (rollout.restarted.length === 0) return ['no workload restarted or reported'];
  const rows = [
    ['WORKLOAD', 'REVISION', 'RESULT', 'AT', 'MESSAGE'],
    ...rollout.restarted.map((e) => [`${e.kind} ${e.namespace}/${e.name}`, e.hash, e.result, e.at, e.message ?? '']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function pause(config: KubeConfig, name: string, flags: Flags, io: Io): Promise<number> {
  const object = await readTemplate(config, name);
  const already = object.metadata?.annotations?.[PAUSED_KEY];
  if (already !== undefined && flags.reason === undefined) {
    io.stdout(`${name}: already paused: ${oneLine(already)}\n`);
    return 0;
  }
  const reason = oneLine(flags.reason ?? 'paused with podpattern rollout pause');
  const custom = config.makeApiClient(CustomObjectsApi);
  await call(`annotate PatternTemplate ${name}`, config, () =>
    custom.patchClusterCustomObject({ ...TEMPLATES, name, body: { metadata: { annotations: { [PAUSED_KEY]: reason } } } }, merge),
  );
  io.stdout(`${name}: paused (${reason}); workloads restarting now finish on their own, no other is restarted\n`);
  return 0;
}

async function resume(config: KubeConfig, name: string, _flags: Flags, io: Io): Promise<number> {
  const object = await readTemplate(config, name);
  if (object.metadata?.annotations?.[PAUSED_KEY] === undefined) {
    io.stdout(`${name}: not paused\n`);
    return 0;
  }
  const custom = config.makeApiClient(CustomObjectsApi);
  await call(`annotate PatternTemplate ${name}`, config, () =>
    custom.patchClusterCustomObject({ ...TEMPLATES, name, body: { metadata: { annotations: { [PAUSED_KEY]: null } } } }, merge),
  );
  io.stdout(`${name}: resumed\n`);
  return 0;
}

/**
 * The revision undo goes back to: the promoted one when it is not the current one, else the
 * newest before the current one by number.
 */
export function undoTarget(revisions: readonly Revision[], current: string): Revision | undefined {
  const newestFirst = [...revisions].sort((a, b) => b.revision - a.revision);
  const promoted = newestFirst.find((r) => r.promoted);
  if (promoted !== undefined && promoted.hash !== current) return promoted;
  const now = newestFirst.find((r) => r.hash === current);
  return newestFirst.find((r) => r.hash !== current && (now === undefined || r.revision < now.revision));
}

async function undo(config: KubeConfig, name: string, flags: Flags, io: Io): Promise<number> {
  const object = await readTemplate(config, name);
  const verdict = validateTemplate(templateOfObject(object), 'cluster', name);
  if (!verdict.ok) {
    io.stderr(
      `podpattern rollout undo: ${name} is not valid now (${verdict.problems.join('; ').slice(0, 1000)}): its last good version is in force; fix or replace it with kubectl\n`,
    );
    return 1;
  }
  const current = verdict.template.hash;
  const namespace = flags['podpattern-namespace'] ?? 'podpattern';
  const revisions = await call(`list ControllerRevisions in ${namespace}`, config, () => kubeRevisionStore(config, namespace).list(name));
  const target = undoTarget(revisions, current);
  if (target?.spec === undefined) {
    io.stderr(
      `podpattern rollout undo: no revision of ${name} to go back to in ${namespace} (podpattern templates history ${name} lists them)\n`,
    );
    return 1;
  }
  const spec = object.spec as { rollout?: unknown } | undefined;
  // The revision holds what pods are injected from; how to roll out stays as it is now.
  const value = { ...target.spec, ...(spec?.rollout === undefined ? {} : { rollout: spec.rollout }) };
  const paused = object.metadata?.annotations?.[PAUSED_KEY] !== undefined;
  const patch = [
    // Conditional on the version read: a change made meanwhile is not overwritten.
    { op: 'test', path: '/metadata/resourceVersion', value: object.metadata?.resourceVersion },
    { op: 'replace', path: '/spec', value },
    ...(paused ? [{ op: 'remove', path: `/metadata/annotations/${PAUSED_KEY.replaceAll('~', '~0').replaceAll('/', '~1')}` }] : []),
  ];
  const custom = config.makeApiClient(CustomObjectsApi);
  await call(`undo PatternTemplate ${name}`, config, () =>
    custom.patchClusterCustomObject({ ...TEMPLATES, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
  );
  io.stdout(`${name}: back to revision ${target.revision} (${target.hash}) from ${current}${paused ? '; resumed' : ''}\n`);
  const settings = rolloutSettings(spec?.rollout);
  if (settings.restart === 'auto' && flags.restart !== true) {
    io.stdout(`the rollout controller restarts the workloads running ${current} (podpattern rollout status ${name} follows it)\n`);
    return 0;
  }
  return restartReached(config, name, current, flags.restart === true, io);
}

/** restart: manual (or --restart): the workloads whose pods record `undone`, printed with the command that rolls each, or restarted. */
async function restartReached(config: KubeConfig, name: string, undone: string, restart: boolean, io: Io): Promise<number> {
  // restart: manual: what the undone revision reached, from the pods' records.
  const index = await readIndex(config);
  const reached = new Map<string, { namespace: string; kind: string; name: string; pod: string }>();
  for (const usage of index.usages(name)) {
    if (!usage.hashes.includes(undone)) continue;
    const pod = index.podNames(name, usage)[0] ?? usage.workload.name;
    reached.set(`${usage.namespace}/${usage.workload.kind}/${usage.workload.name}`, {
      namespace: usage.namespace,
      kind: usage.workload.kind,
      name: usage.workload.name,
      pod,
    });
  }
  if (reached.size === 0) {
    io.stdout(`no running pod records ${undone}: nothing to restart\n`);
    return 0;
  }
  const apps = config.makeApiClient(AppsV1Api);
  for (const w of reached.values()) {
    if (restart && isRestartable(w.kind)) {
      await call(`restart ${w.kind} ${w.namespace}/${w.name}`, config, () =>
        patchRestart(apps, { namespace: w.namespace, kind: w.kind as RestartableKind, name: w.name }, Date.now()),
      );
      io.stdout(`restarted ${w.kind} ${w.namespace}/${w.name}\n`);
    } else io.stdout(`runs ${undone}: ${w.kind} ${w.namespace}/${w.name}; roll: ${rollCommand(w.kind, w.name, w.namespace, w.pod)}\n`);
  }
  return 0;
}
