// `podpattern explain -f FILE`: the assumptions made about the cluster, then for each pod
// template which templates were or were not injected and why, the parameters in force, and
// the patch.
import type { InjectionResult, PodLike } from '../engine/types.js';
import { readStatus } from '../engine/status.js';
import { INJECT_KEY, STATUS_KEY } from '../model/keys.js';
import type { ManifestResult } from '../engine/manifest.js';
import { guard, processIo, runOnManifests, type Io } from './common.js';
import { failedRun } from './inject.js';

export const usage = `usage: podpattern explain -f FILE|DIR|- [-f …] [-R] [--catalog-dir DIR] [--namespace NS]
                         [--namespace-annotation KEY=VALUE …]
                         [--native-sidecars auto|always|never] [--kube-version 1.30]

Explains, for each pod template in the manifests, what podpattern would do and why, after
the assumptions it made about the cluster (its version, native sidecars, the namespace and
its annotations), each with the flag that changes it.
Exit code 1 when any pod would be denied or a pod template cannot be injected.
`;

const SKIPS: Record<string, string> = {
  'opted-out': `nothing injected: the pod opts out with ${INJECT_KEY}: "false"`,
  'not-requested': 'nothing injected: neither the pod nor its namespace asks for a template',
  'already-injected': `nothing to do: ${STATUS_KEY} shows these templates are already injected`,
};

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const ran = runOnManifests(argv, io, false);
    if (ran.help) return (io.stdout(usage), 0);
    if ('exitCode' in ran) return ran.exitCode;
    io.stdout(`assumed about the cluster:\n${ran.assumptions.map((a) => `  ${a}\n`).join('')}\n`);
    io.stdout(ran.results.map(explainOne).join('\n'));
    return ran.results.some(failedRun) ? 1 : 0;
  });
}

export function explainOne(manifest: ManifestResult): string {
  const lines = [`${manifest.label}`];
  const result = manifest.result;
  if (manifest.refusal !== undefined) lines.push(`  REFUSED: ${manifest.refusal}`);
  else if (result === undefined) lines.push('  no pod template (not a Pod, nor a kind with spec.template): passed through unchanged');
  else lines.push(...resultLines(result));
  for (const warning of manifest.warnings) lines.push(`  warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function resultLines(result: InjectionResult): string[] {
  switch (result.outcome) {
    case 'skipped':
      return [`  ${SKIPS[result.reason]}`];
    case 'denied': {
      const lines = ['  DENIED: the pod would be refused, nothing is injected.'];
      for (const problem of result.problems)
        lines.push(`  - [${problem.code}]${problem.template ? ` ${problem.template}:` : ''} ${problem.message}`);
      return lines;
    }
    case 'injected': {
      const lines: string[] = [];
      for (const template of result.templates) {
        lines.push(`  inject ${template.name} (${template.pattern}, hash ${template.hash})`);
        const parameters = Object.entries(result.parameters[template.name] ?? {});
        for (const [name, value] of parameters) lines.push(`    ${name} = ${JSON.stringify(value)}`);
        if (parameters.length === 0) lines.push('    (no parameters)');
      }
      lines.push(...placement(result.pod));
      lines.push(`  patch (${result.patch.length} operations):`);
      for (const op of result.patch) lines.push(`    ${op.op} ${op.path}${'value' in op ? ` ${summarize(op.value)}` : ''}`);
      return lines;
    }
  }
}

/** Where the added containers went, from the pod's own record of what was added. */
function placement(pod: PodLike): string[] {
  const status = readStatus(pod.metadata?.annotations ?? {});
  if (typeof status !== 'object') return [];
  const native = new Set((pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const lines: string[] = [];
  const nativeAdded = status.initContainers.filter((name) => native.has(name));
  const initAdded = status.initContainers.filter((name) => !native.has(name));
  if (nativeAdded.length > 0)
    lines.push(`  added as native sidecars (init containers with restartPolicy: Always): ${nativeAdded.join(', ')}`);
  if (status.containers.length > 0) lines.push(`  added as containers: ${status.containers.join(', ')}`);
  if (initAdded.length > 0) lines.push(`  added as init containers: ${initAdded.join(', ')}`);
  const policy = pod.spec?.restartPolicy;
  if (policy === 'Never' || policy === 'OnFailure')
    lines.push(`  the pod runs to completion (restartPolicy: ${policy}), so every long-running container added is a native sidecar`);
  return lines;
}

function summarize(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length <= 100 ? text : `${text.slice(0, 97)}...`;
}
