// The injection engine: pod + catalog + options -> result. Pure: no I/O, no clock, no logger,
// so the webhook and the offline CLI give the same answer for the same pod.
import type { V1PodSpec } from '@kubernetes/client-node';
import type { Catalog, Template } from '../catalog/types.js';
import { compose, type Piece } from './compose.js';
import { STATUS_KEY, PATTERN_KEYS, parameterKey } from './keys.js';
import { resolveParameters } from './params.js';
import { renderTemplate, type PodFacts } from './render.js';
import { readRequests, truncate, type Requests, type TemplateRequest } from './requests.js';
import { closest, didYouMean } from './suggest.js';
import { emptyStatus, readStatus, sameTemplates, stripInjection } from './status.js';
import { diffPatch } from './patch.js';
import { nativeSidecarSupport, runsToCompletion } from './lifecycle.js';
import type { InjectOptions, InjectedTemplate, InjectionResult, PodLike, Problem } from './types.js';

export type * from './types.js';
export { applyPatch } from './patch.js';
export { nativeSidecarSupport, runsToCompletion, useNativeSidecars } from './lifecycle.js';
export * as keys from './keys.js';

/** Decides what `pod` becomes. Never throws for bad pod input: problems come back as a denial. */
export function inject(pod: PodLike, catalog: Catalog, options: InjectOptions): InjectionResult {
  const annotations = pod.metadata?.annotations ?? {};
  const requests = readRequests(annotations, options.namespaceAnnotations ?? {});
  checkStrayParameters(requests, catalog);
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
  const sidecars = nativeSidecarSupport(options);
  const composed = compose(mutated, pieces, status, {
    native: sidecars.native,
    why: sidecars.why,
    runsToCompletion: runsToCompletion(pod, options),
    controllerVolumes: options.controllerVolumes ?? [],
  });
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
        message: `${PATTERN_KEYS[request.pattern]}: no template named '${request.name}'${didYouMean(request.name, same)}; the ${request.pattern} templates are ${same.join(', ') || '(none)'} ('podpattern templates' lists them all)`,
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

/**
 * Parameter annotations for a template the pod does not ask for. A template the catalog does
 * not have is a typo (or a stale key) and denies the pod, with the nearest name; one it has is
 * only ignored, with a warning, as a pod may keep parameters of a template it dropped.
 */
function checkStrayParameters(requests: Requests, catalog: Catalog): void {
  const requested = new Set(requests.templates.map((t) => t.name));
  for (const [template, parameters] of requests.parameters) {
    if (requested.has(template)) continue;
    for (const parameter of parameters.keys()) {
      const key = parameterKey(template, parameter);
      if (catalog.get(template) !== undefined || catalog.failure(template) !== undefined) {
        requests.warnings.push(`annotation ${truncate(key)} is ignored: the pod does not ask for template ${template}`);
        continue;
      }
      const nearest = closest(template, [...requested, ...catalog.list().map((t) => t.name)]);
      requests.problems.push({
        code: 'invalid-annotation',
        message: `${truncate(key)} sets a parameter of template '${truncate(template)}', which is not in the catalog${nearest === undefined ? '' : ` (did you mean ${parameterKey(nearest, parameter)}?)`}; 'podpattern templates' lists the templates`,
      });
    }
  }
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
