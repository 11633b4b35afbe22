// The injection engine: pod + catalog + options -> result. Pure: no I/O, no clock, no logger,
// so the webhook and the offline CLI give the same answer for the same pod.
import type { V1PodSpec } from '#kube';
import type { Catalog, ParameterValue, Template } from '../model/template.js';
import { compose, type Piece, type Placement } from './compose.js';
import { INJECTED_LABEL, STATUS_KEY, PATTERN_KEYS, parameterKey, parseTemplateKey } from '../model/keys.js';
import { resolveParameters, type Values } from './params.js';
import { renderTemplate, type PodFacts } from './render.js';
import { readRequests, truncate, type Requests, type TemplateRequest } from './requests.js';
import { closest, didYouMean } from './suggest.js';
import { emptyStatus, readStatus, sameTemplates, type Status } from './status.js';
import { applyPatch, diffPatch, editableCopy } from './patch.js';
import type { Operation } from 'fast-json-patch';
import { MAX_PATCH_BYTES, MAX_PROBLEM_BYTES, MAX_PROBLEMS, MAX_TEMPLATES, MAX_WARNINGS, capList, capWarnings, cutBytes } from './bounds.js';
import { addedBy, provenance, type Recorded } from './provenance.js';
import { ANY_TEXT } from './likeness.js';
import { metadataProblems, specProblems } from './shape.js';
import { nativeSidecarSupport, runsToCompletion } from './lifecycle.js';
import { fitToCluster, osProblems } from './fit.js';
import type { InjectOptions, InjectedTemplate, InjectionResult, PodLike, Problem } from './types.js';
import { availabilityProblem, type Requester } from './availability.js';
import { addRequired, forbiddenProblem, narrowingOf, optOutProblem, policyFor, unreadableProblem } from './policy.js';
import type { Policy, PolicyView } from '../model/policy.js';

export type * from './types.js';
export { applyPatch } from './patch.js';
export { nativeSidecarSupport, runsToCompletion, useNativeSidecars } from './lifecycle.js';

/** Decides what `pod` becomes. Never throws for bad pod input: problems come back as a denial. */
export function inject(pod: PodLike, catalog: Catalog, options: InjectOptions): InjectionResult {
  const unreadable = metadataProblems(pod);
  if (unreadable.length > 0) return deny(unreadable, []);
  const annotations = pod.metadata?.annotations ?? {};
  const previous = readStatus(annotations);
  const recordedNames = typeof previous === 'object' ? previous.templates.map((t) => t.name) : [];
  const policy = policyFor(pod, options.policy);
  // A required template's parameters on the pod are read as if the pod asked for it.
  const requests = readRequests(annotations, options.namespaceAnnotations ?? {}, [...recordedNames, ...requiredNames(policy)]);
  const warnings = requests.warnings;
  const namespace = podFacts(pod, options).namespace;
  const gate = applyPolicy(requests, policy, namespace, catalog);
  if (gate !== undefined) return gate;
  checkStrayParameters(requests, catalog);
  if (requests.templates.length === 0 && requests.problems.length === 0)
    return { outcome: 'skipped', reason: 'not-requested', warnings: capWarnings(warnings) };
  const badSpec = specProblems(pod);
  if (badSpec.length > 0) return deny(badSpec, warnings);

  const problems = requests.problems;
  const chosen = chooseTemplates(requests, catalog, {
    problems,
    warnings,
    who: requesterOf(pod, namespace, options),
    policy: readable(policy),
  });
  const stop = refusedOrNone(problems, chosen, warnings);
  if (stop !== undefined) return stop;

  const desired: InjectedTemplate[] = chosen.map(({ template }) => ({
    name: template.name,
    pattern: template.spec.pattern,
    hash: template.hash,
  }));
  if (previous === 'unreadable') warnings.push(`${STATUS_KEY} is not podpattern's record; it is replaced`);
  const sidecars = nativeSidecarSupport(options);
  const placement = {
    native: sidecars.native,
    why: sidecars.why,
    runsToCompletion: runsToCompletion(pod, options),
    controllerVolumes: options.controllerVolumes ?? [],
  };
  const facts = podFacts(pod, options);
  const pieces: Piece[] = chosen.map(({ template, values }) => ({
    template,
    pattern: template.spec.pattern,
    rendered: renderTemplate(template, values, facts),
  }));

  const input = pod as PodLike & { spec: V1PodSpec };
  const earlier =
    typeof previous === 'object'
      ? undoEarlier(input, previous, desired, { catalog, parameters: requests.parameters, pieces, placement })
      : { stripping: [], left: undefined };
  if (earlier === 'complete') return { outcome: 'skipped', reason: 'already-injected', warnings: capWarnings(warnings) };
  const { stripping, left } = earlier;
  // The earlier injection's proven objects out, then the templates in: the patch is those
  // removals followed by the diff of the stripped pod and the result (patch.ts).
  const stripped = stripping.length === 0 ? input : applyPatch(input, stripping);
  const mutated = editableCopy(stripped);
  const status = emptyStatus(desired);
  const composed = compose(mutated, pieces, status, placement);
  warnings.push(...composed.warnings);
  const unfit = osProblems(mutated, pieces);
  if (composed.problems.length + unfit.length > 0)
    return deny([...composed.problems, ...unfit], warnings, composed.problemCount + unfit.length);
  if (left !== undefined) keepRecorded(status, left, warnings);
  const refused = fitToCluster(mutated, stripped.spec, pieces, status, { previous, limitRanges: options.limitRanges, warnings });
  if (refused.length > 0) return deny(refused, warnings);

  (mutated.metadata!.annotations ??= {})[STATUS_KEY] = JSON.stringify(status);
  // A new object: the copy shares the input's labels (patch.ts), which must stay as they came.
  mutated.metadata!.labels = { ...mutated.metadata!.labels, [INJECTED_LABEL]: 'true' };
  return answer(stripped, mutated, stripping, { desired, parameters: parametersOf(chosen), warnings });
}

/** A denial for `problems`; or, when nothing is left to inject (every template the namespace's defaults named was skipped here), a skip. */
function refusedOrNone(problems: Problem[], chosen: Chosen[], warnings: string[]): InjectionResult | undefined {
  if (problems.length > 0) return deny(problems, warnings);
  return chosen.length === 0 ? { outcome: 'skipped', reason: 'not-requested', warnings: capWarnings(warnings) } : undefined;
}

function readable(policy: PolicyView): Policy | undefined {
  return policy === 'unreadable' ? undefined : policy;
}

function requiredNames(policy: PolicyView): string[] {
  return readable(policy)?.require.map((r) => r.template) ?? [];
}

/**
 * The namespace's policy before anything else: a policy that cannot be read refuses the pod, an
 * opt-out is refused where templates are required (else it ends the review), and the required
 * templates join the requests. An answer when the review ends here.
 */
function applyPolicy(
  requests: Requests,
  policy: Policy | 'unreadable' | undefined,
  namespace: string,
  catalog: Catalog,
): InjectionResult | undefined {
  if (policy === 'unreadable') return deny([unreadableProblem(namespace)], requests.warnings);
  if (requests.optedOut) {
    if (policy !== undefined && policy.require.length > 0) return deny([optOutProblem(policy)], requests.warnings);
    return { outcome: 'skipped', reason: 'opted-out', warnings: capWarnings(requests.warnings) };
  }
  if (policy !== undefined) addRequired(requests, policy, catalog);
  return undefined;
}

/** The injected pod's answer: the patch from `stripped` to `mutated` after the `stripping` ops, bounded in size. */
function answer(
  stripped: PodLike,
  mutated: PodLike,
  stripping: Operation[],
  result: { desired: InjectedTemplate[]; parameters: Record<string, Record<string, ParameterValue>>; warnings: string[] },
): InjectionResult {
  const { desired, parameters, warnings } = result;
  const patch = diffPatch(stripped, mutated, stripping);
  const patchJson = JSON.stringify(patch);
  const patchBytes = patchJson.length;
  if (patchBytes > MAX_PATCH_BYTES) {
    return deny(
      [
        {
          code: 'invalid-pod',
          message: `injecting ${desired.map((t) => t.name).join(', ')} would change this pod by ${Math.ceil(patchBytes / 1024)} KiB, more than podpattern answers with (${MAX_PATCH_BYTES / 1024} KiB); the pod has more containers than these templates can wire into`,
        },
      ],
      warnings,
    );
  }
  return {
    outcome: 'injected',
    reason: 'injected',
    templates: desired,
    parameters,
    pod: mutated,
    patch,
    patchJson,
    warnings: capWarnings(warnings),
  };
}

type Chosen = { template: Template; request: TemplateRequest; values: Values };

/**
 * The requested templates found under the pattern they were asked for, with their parameter
 * values. Parameters are checked even for a template listed under the wrong pattern, so one
 * denial says everything; every problem goes to `problems`.
 */
function chooseTemplates(
  requests: Requests,
  catalog: Catalog,
  context: { problems: Problem[]; warnings: string[]; who: Requester; policy: Policy | undefined },
): Chosen[] {
  const { problems, warnings, who, policy } = context;
  const chosen: Chosen[] = [];
  for (const request of requests.templates) {
    const template = lookUp(request, catalog, problems, warnings);
    if (template === undefined) continue;
    const refused = forbiddenProblem(template, policy) ?? availabilityProblem(template, who);
    if (refused !== undefined) {
      // A namespace's defaults never give a pod a template it may not have: they skip it.
      if (request.from === 'namespace')
        warnings.push(`the namespace's default template ${template.name} is not applied here: ${refused.message}`);
      else problems.push(refused);
      continue;
    }
    const resolved = resolveParameters(template, requests.parameters.get(template.name), narrowingOf(template.name, policy));
    problems.push(...resolved.problems);
    if (template.spec.pattern === request.pattern) chosen.push({ template, request, values: resolved.values });
  }
  return chosen;
}

/** The parameter values each chosen template is rendered with, by template (loops: Object.fromEntries costs more here). */
function parametersOf(chosen: Chosen[]): Record<string, Record<string, ParameterValue>> {
  const parameters: Record<string, Record<string, ParameterValue>> = {};
  for (const { template, values } of chosen) {
    const byName: Record<string, ParameterValue> = (parameters[template.name] = {});
    for (const [name, value] of values) byName[name] = value;
  }
  return parameters;
}

/**
 * An earlier injection: 'complete' when the pod holds all of it for the templates it asks for
 * now; else the ops that take out what is proven ours and, when the pod dropped a template,
 * what the status records that stays.
 */
function undoEarlier(
  input: PodLike & { spec: V1PodSpec },
  previous: Status,
  desired: InjectedTemplate[],
  now: { catalog: Catalog; parameters: Map<string, Map<string, string>>; pieces: Piece[]; placement: Placement },
): 'complete' | { stripping: Operation[]; left: Recorded | undefined } {
  const earlier = earlierInjection(input, previous, now);
  if (earlier.complete && sameTemplates(previous.templates, desired)) return 'complete';
  const { ops, left } = earlier.stripping();
  const dropped = previous.templates.some((t) => !desired.some((d) => d.name === t.name));
  return { stripping: ops, left: dropped ? left : undefined };
}

/**
 * What an earlier injection recorded in `previous` left in the pod: whether it is all there
 * (`complete`), and the ops that take out what is proven to be ours.
 */
function earlierInjection(
  input: PodLike & { spec: V1PodSpec },
  previous: Status,
  now: { catalog: Catalog; parameters: Map<string, Map<string, string>>; pieces: Piece[]; placement: Placement },
): ReturnType<typeof provenance> {
  const asked = new Set(now.pieces.map((p) => p.template.name));
  const recorded = recordedPieces(previous, now.catalog, now.parameters, { name: ANY_TEXT, namespace: ANY_TEXT }, asked);
  const again = new Set(previous.templates.map((t) => t.name));
  return provenance(
    input,
    previous,
    addedBy(recorded.pieces, now.placement),
    addedBy(
      now.pieces.filter((p) => again.has(p.template.name)),
      now.placement,
    ),
    recorded.whole,
  );
}

/**
 * The templates a status records, rendered as they were when their hash still matches the
 * catalog's; `whole` is false when one of them can no longer be rendered (changed, removed, or
 * its parameters no longer valid), so the pod cannot be proven fully injected. A template the
 * pod no longer asks for (`again` lacks it) is rendered with the parameters the pod still sets
 * and any value for the rest: a pod drops a template's parameters with it, and the objects it
 * was injected with must still be found, to go with it.
 */
function recordedPieces(
  status: Status,
  catalog: Catalog,
  parameters: Map<string, Map<string, string>>,
  facts: PodFacts,
  again: ReadonlySet<string>,
): { pieces: Piece[]; whole: boolean } {
  const pieces: Piece[] = [];
  let whole = true;
  for (const recorded of status.templates.slice(0, MAX_TEMPLATES)) {
    const template = catalog.get(recorded.name);
    const resolved = template?.hash === recorded.hash ? resolveParameters(template, parameters.get(template.name)) : undefined;
    if (template === undefined || resolved === undefined) {
      whole = false;
      continue;
    }
    if (!again.has(template.name)) {
      const values = new Map(resolved.values);
      for (const name in template.spec.parameters)
        if (parameters.get(template.name)?.has(name) !== true || !resolved.values.has(name)) values.set(name, ANY_TEXT);
      pieces.push({ template, pattern: template.spec.pattern, rendered: renderTemplate(template, values, facts) });
      continue;
    }
    if (resolved.problems.length > 0) {
      whole = false;
      continue;
    }
    pieces.push({ template, pattern: template.spec.pattern, rendered: renderTemplate(template, resolved.values, facts) });
  }
  return { pieces, whole: whole && status.templates.length <= MAX_TEMPLATES };
}

/**
 * What an earlier injection recorded, of templates the pod no longer asks for, that podpattern
 * cannot prove it added (the template changed or left the catalog since) stays in the pod: it
 * stays recorded too, so it is never taken for the pod's own, and the pod author is told.
 */
function keepRecorded(status: Status, left: Recorded, warnings: string[]): void {
  const kept: string[] = [];
  for (const list of ['containers', 'initContainers', 'volumes', 'annotations', 'appEnv', 'appVolumeMounts'] as const) {
    for (const name of left[list]) {
      if (status[list].includes(name)) continue;
      status[list].push(name);
      kept.push(name);
    }
  }
  if (kept.length === 0) return;
  const { kept: shown, more } = capList(kept, 10);
  warnings.push(
    `${STATUS_KEY} records ${shown.map((n) => truncate(n)).join(', ')}${more > 0 ? ` and ${more} more` : ''} for a template this pod no longer asks for, and podpattern cannot prove them its own (the template changed or left the catalog since): they stay in the pod and in its record; remove them from the pod, and their names from ${STATUS_KEY}, if nothing uses them`,
  );
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
      const same = catalog
        .list()
        .filter((t) => t.spec.pattern === request.pattern)
        .map((t) => t.name);
      problems.push({
        code: 'unknown-template',
        template: request.name,
        message: `${PATTERN_KEYS[request.pattern]}: no template named '${request.name}'${didYouMean(request.name, same)}; the ${request.pattern} templates are ${same.join(', ') || '(none)'} ('podpattern templates' lists them all)`,
      });
    }
    return undefined;
  }
  if (failure !== undefined)
    warnings.push(
      `the newest version of template ${request.name} (${failure.source}) is invalid; the last good one is used: ${failure.problems[0] ?? ''}`,
    );
  if (template.spec.pattern !== request.pattern) {
    problems.push({
      code: 'wrong-pattern',
      template: template.name,
      message: `${PATTERN_KEYS[request.pattern]}: template ${template.name} is ${withArticle(template.spec.pattern)} template, not ${withArticle(request.pattern)}; list it under ${PATTERN_KEYS[template.spec.pattern]}`,
    });
  }
  return template;
}

/**
 * Parameter annotations for a template the pod does not ask for. A template the catalog does
 * not have is a typo (or a stale key) and denies the pod, with the nearest name; one it has is
 * only ignored, with a warning, as a pod may keep parameters of a template it dropped.
 */
function checkStrayParameters(requests: Requests, catalog: Catalog): void {
  // Parameters of templates recorded in the status but no longer asked for join the strays.
  const strays = requests.stray;
  for (const [template, parameters] of requests.parameters) {
    if (!requests.templates.some((t) => t.name === template)) for (const p of parameters.keys()) strays.push(parameterKey(template, p));
  }
  if (strays.length === 0) return;
  const requested = new Set(requests.templates.map((t) => t.name));
  // A pod can carry thousands: each is reported up to a denial's (or an answer's) worth, the rest counted.
  let ignored = 0;
  let unknown = 0;
  for (const key of new Set(strays)) {
    const parsed = parseTemplateKey(key);
    if (parsed?.kind !== 'parameter') continue;
    const { template, parameter } = parsed;
    if (catalog.get(template) !== undefined || catalog.failure(template) !== undefined) {
      ignored += 1;
      if (ignored <= MAX_WARNINGS)
        requests.warnings.push(`annotation ${truncate(key)} is ignored: the pod does not ask for template ${template}`);
      continue;
    }
    unknown += 1;
    if (unknown > MAX_PROBLEMS) continue;
    const nearest = closest(template.slice(0, 128), [...requested, ...catalog.list().map((t) => t.name)]);
    requests.problems.push({
      code: 'invalid-annotation',
      message: `${truncate(key)} sets a parameter of template '${truncate(template)}', which is not in the catalog${nearest === undefined ? '' : ` (did you mean ${parameterKey(nearest, truncate(parameter))}?)`}; 'podpattern templates' lists the templates`,
    });
  }
  if (ignored > MAX_WARNINGS)
    requests.warnings.push(`${ignored - MAX_WARNINGS} more parameter annotations are ignored: the pod does not ask for their templates`);
  if (unknown > MAX_PROBLEMS)
    requests.problems.push({
      code: 'invalid-annotation',
      message: `${unknown - MAX_PROBLEMS} more annotations set parameters of templates that are not in the catalog`,
      count: unknown - MAX_PROBLEMS,
    });
}

function cutProblem(problem: Problem): Problem {
  const message = cutBytes(problem.message, MAX_PROBLEM_BYTES);
  return message === problem.message ? problem : { ...problem, message };
}

function withArticle(pattern: string): string {
  return `${pattern === 'sidecar' ? 'a' : 'an'} ${pattern}`;
}

/** A denial lists at most MAX_PROBLEMS problems, in the message and in its causes alike, and says how many more there are. */
function deny(all: Problem[], warnings: string[], total = all.reduce((sum, p) => sum + (p.count ?? 1), 0)): InjectionResult {
  // Summaries (problems that stand for many) are always kept; the rest fill up to the limit.
  const summaries = all.filter((p) => p.count !== undefined);
  const { kept } = capList(
    all.filter((p) => p.count === undefined),
    MAX_PROBLEMS - summaries.length,
  );
  const problems = [...kept, ...summaries].map(cutProblem);
  const more = total - problems.reduce((sum, p) => sum + (p.count ?? 1), 0);
  // The first problem on the first line: kubectl get events and a controller's FailedCreate
  // Event show only that line, and a count alone tells the reader nothing.
  const [first, ...others] = problems.map((p) => p.message);
  const lines = others.map((message) => `- ${message}`);
  if (more > 0) lines.push(`- … and ${more} more problem${more === 1 ? '' : 's'}`);
  const message = [`podpattern cannot inject this pod${total === 1 ? '' : ` (${total} problems)`}: ${first ?? ''}`, ...lines].join('\n');
  return { outcome: 'denied', reason: (problems[0] as Problem).code, problems, message, warnings: capWarnings(warnings) };
}

/**
 * Who the pod runs as, for availability. The API server's ServiceAccount admission plugin sets
 * spec.serviceAccountName (to "default" when the pod names none) before webhooks are called.
 */
function requesterOf(pod: PodLike, namespace: string, options: InjectOptions): Requester {
  const spec = pod.spec as { serviceAccountName?: unknown; serviceAccount?: unknown } | undefined;
  const account =
    typeof spec?.serviceAccountName === 'string' && spec.serviceAccountName !== ''
      ? spec.serviceAccountName
      : typeof spec?.serviceAccount === 'string' && spec.serviceAccount !== ''
        ? spec.serviceAccount
        : 'default';
  return { namespace, labels: options.namespaceLabels, serviceAccount: account };
}

/**
 * $(pod.name): the pod's name, or its generateName prefix when the API server has not named
 * it yet (pods made by controllers arrive at admission with generateName only).
 */
function podFacts(pod: PodLike, options: InjectOptions): PodFacts {
  const meta = pod.metadata ?? {};
  return { name: meta.name ?? meta.generateName ?? options.podNameHint ?? '', namespace: meta.namespace ?? options.namespace ?? '' };
}
