// The injection engine: pod + catalog + options -> result. Pure: no I/O, no clock, no logger,
// so the webhook and the offline CLI give the same answer for the same pod.
import type { V1PodSpec } from '@kubernetes/client-node';
import type { Catalog, Template } from '../catalog/types.js';
import { compose, type Piece } from './compose.js';
import { STATUS_KEY, PATTERN_KEYS } from './keys.js';
import { resolveParameters } from './params.js';
import { renderTemplate, type PodFacts } from './render.js';
import { readRequests, type TemplateRequest } from './requests.js';
import { emptyStatus, readStatus, sameTemplates, stripInjection } from './status.js';
import { diffPatch } from './patch.js';
import type { InjectOptions, InjectedTemplate, InjectionResult, PodLike, Problem } from './types.js';

export type * from './types.js';
export { applyPatch } from './patch.js';
export * as keys from './keys.js';

/** Decides what `pod` becomes. Never throws for bad pod input: problems come back as a denial. */
export function inject(pod: PodLike, catalog: Catalog, options: InjectOptions): InjectionResult {
  const annotations = pod.metadata?.annotations ?? {};
  const requests = readRequests(annotations, options.namespaceAnnotations ?? {});
  const warnings = [...requests.warnings];
  if (requests.optedOut) return { outcome: 'skipped', reason: 'opted-out', warnings };
  if (requests.templates.length === 0 && requests.problems.length === 0) return { outcome: 'skipped', reason: 'not-requested', warnings };
  if (!Array.isArray(pod.spec?.containers)) {
    return deny([{ code: 'invalid-pod', message: 'the pod has no spec.containers list' }], warnings);
  }

  const problems: Problem[] = [...requests.problems];
  const chosen: { template: Template; request: TemplateRequest; values: ReturnType<typeof resolveParameters>['values'] }[] = [];
  for (const request of requests.templates) {
    const template = lookUp(request, catalog, problems, warnings);
    if (template === undefined) continue;
    const resolved = resolveParameters(template, requests.parameters.get(template.name));
    problems.push(...resolved.problems);
    chosen.push({ template, request, values: resolved.values });
  }
  if (problems.length > 0) return deny(problems, warnings);

  const desired: InjectedTemplate[] = chosen.map(({ template }) => ({ name: template.name, pattern: template.spec.pattern, hash: template.hash }));
  const previous = readStatus(annotations);
  if (typeof previous === 'object' && sameTemplates(previous.templates, desired)) return { outcome: 'skipped', reason: 'already-injected', warnings };
  if (previous === 'unreadable') warnings.push(`${STATUS_KEY} is not podpattern's record; it is replaced`);

  const mutated = structuredClone(pod) as PodLike & { spec: V1PodSpec };
  if (typeof previous === 'object') stripInjection(mutated, previous);
  const facts = podFacts(pod, options);
  const pieces: Piece[] = chosen.map(({ template, values }) => ({ template, pattern: template.spec.pattern, rendered: renderTemplate(template.spec, values, facts) }));
  const status = emptyStatus(desired);
  const composed = compose(mutated, pieces, status, useNativeSidecars(options));
  warnings.push(...composed.warnings);
  if (composed.problems.length > 0) return deny(composed.problems, warnings);

  (mutated.metadata!.annotations ??= {})[STATUS_KEY] = JSON.stringify(status);
  const parameters = Object.fromEntries(chosen.map(({ template, values }) => [template.name, Object.fromEntries(values)]));
  return { outcome: 'injected', reason: 'injected', templates: desired, parameters, pod: mutated, patch: diffPatch(pod, mutated), warnings };
}

function lookUp(request: TemplateRequest, catalog: Catalog, problems: Problem[], warnings: string[]): Template | undefined {
  const template = catalog.get(request.name);
  const failure = catalog.failure(request.name);
  if (template === undefined) {
    if (failure !== undefined) {
      problems.push({
        code: 'template-invalid',
        template: request.name,
        message: `template ${request.name} (${failure.source}) is invalid, so it cannot be injected until its owner fixes it: ${failure.problems.slice(0, 5).join('; ')}`,
      });
    } else {
      const same = catalog.list().filter((t) => t.spec.pattern === request.pattern).map((t) => t.name);
      problems.push({
        code: 'unknown-template',
        template: request.name,
        message: `${PATTERN_KEYS[request.pattern]}: no template named '${request.name}'; the ${request.pattern} templates are ${same.join(', ') || '(none)'} ('podpattern templates' lists them all)`,
      });
    }
    return undefined;
  }
  if (failure !== undefined) warnings.push(`the newest version of template ${request.name} (${failure.source}) is invalid; the last good one is used: ${failure.problems[0] ?? ''}`);
  if (template.spec.pattern !== request.pattern) {
    problems.push({
      code: 'wrong-pattern',
      template: template.name,
      message: `${PATTERN_KEYS[request.pattern]}: template ${template.name} is ${withArticle(template.spec.pattern)} template, not ${withArticle(request.pattern)}; list it under ${PATTERN_KEYS[template.spec.pattern]}`,
    });
    return undefined;
  }
  return template;
}

function withArticle(pattern: string): string {
  return `${pattern === 'sidecar' ? 'a' : 'an'} ${pattern}`;
}

function deny(problems: Problem[], warnings: string[]): InjectionResult {
  const lines = problems.map((p) => `- ${p.message}`);
  const message = `podpattern cannot inject this pod (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
  return { outcome: 'denied', reason: (problems[0] as Problem).code, problems, message, warnings };
}

/**
 * $(pod.name): the pod's name, or its generateName prefix when the API server has not named
 * it yet (pods made by controllers arrive at admission with generateName only).
 */
function podFacts(pod: PodLike, options: InjectOptions): PodFacts {
  const meta = pod.metadata ?? {};
  return { name: meta.name ?? meta.generateName ?? options.podNameHint ?? '', namespace: meta.namespace ?? options.namespace ?? '' };
}

/** Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29. */
export function useNativeSidecars(options: InjectOptions): boolean {
  if (options.nativeSidecars !== 'auto') return options.nativeSidecars === 'always';
  const version = options.serverVersion;
  return version !== undefined && (version.major > 1 || (version.major === 1 && version.minor >= 29));
}
