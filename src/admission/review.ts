// Decides the answer to one admission request: the thin shell around the engine. No HTTP here
// (the server decodes and encodes), no logging or metrics (the caller records the Decision).
import type { Catalog } from '../model/template.js';
import type { InjectOptions, InjectedTemplate, InjectionResult, NativeSidecarMode, PodLike } from '../engine/types.js';
import type { ServerVersion } from '../model/server-version.js';
import { printable } from '../engine/bounds.js';
import { allow, deny, denyInternal } from './respond.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';
import { unavailableText, type Staged, type StagedChoice } from '../impact/staged.js';

export type FailureMode = 'open' | 'closed';

/** Why the server answered without asking the engine, or why it could not: closed sets, like the engine's. */
export type PassReason = 'not-a-pod' | 'not-create';
export type ErrorReason = 'internal-error' | 'catalog-not-loaded' | 'deadline-exceeded' | 'revision-unavailable';

export type Decision = {
  response: AdmissionResponse;
  /** Templates injected (empty unless outcome is injected). */
  templates: InjectedTemplate[];
  /** Templates the problems name, for denials. */
  problemTemplates: string[];
  /** Templates in canary the review used (impact/staged.ts): which revision the pod got, and why. */
  staged?: StagedChoice[];
  error?: Error;
} & (
  | { outcome: 'injected'; reason: 'injected' }
  | { outcome: 'skipped'; reason: Extract<InjectionResult, { outcome: 'skipped' }>['reason'] | PassReason }
  | { outcome: 'denied'; reason: Extract<InjectionResult, { outcome: 'denied' }>['reason'] }
  | { outcome: 'error'; reason: ErrorReason }
);

export type InjectFunction = (pod: PodLike, catalog: Catalog, options: InjectOptions) => InjectionResult;

export interface ReviewDeps {
  inject: InjectFunction;
  /** The catalog in force now; undefined until the first one is loaded. */
  catalog: () => Catalog | undefined;
  nativeSidecars: NativeSidecarMode;
  failureMode: FailureMode;
  /** The API server's version, when known (for nativeSidecars=auto). */
  serverVersion?: () => ServerVersion | undefined;
  /** Annotations of a namespace, when a live cluster view is available. */
  namespaceAnnotations?: (namespace: string) => Record<string, string> | undefined;
  /** The LimitRanges of a namespace ('unreadable' when they could not be read), when a live cluster view is available. */
  limitRanges?: (namespace: string) => InjectOptions['limitRanges'];
  /** Labels of a namespace (templates' availability), when a live cluster view is available. */
  namespaceLabels?: (namespace: string) => InjectOptions['namespaceLabels'];
  /** The PatternPolicy of a namespace, when policies are followed. */
  policy?: (namespace: string) => InjectOptions['policy'];
  /**
   * The catalog for pods of a namespace where templates' changes are staged (impact/staged.ts):
   * outside a template's canary namespaces, its promoted revision. Absent: the catalog in force.
   */
  stage?: (catalog: Catalog, namespace: string | undefined) => Staged;
}

export function decide(request: AdmissionRequest, deps: ReviewDeps): Decision {
  const { uid } = request;
  const isPod = request.kind.group === '' && request.kind.kind === 'Pod' && (request.subResource ?? '') === '';
  if (!isPod) return pass(uid, 'not-a-pod');
  if (request.operation !== undefined && request.operation !== 'CREATE') return pass(uid, 'not-create');
  const pod = request.object;
  if (typeof pod !== 'object' || pod === null) {
    return failed(uid, 'internal-error', deps.failureMode, new Error('the request carries no pod object'));
  }
  const catalog = deps.catalog();
  if (catalog === undefined) return failed(uid, 'catalog-not-loaded', deps.failureMode);

  let result: InjectionResult;
  let staged: Staged | undefined = undefined;
  try {
    staged = deps.stage?.(catalog, namespaceOf(request));
    result = deps.inject(pod as PodLike, staged?.catalog ?? catalog, engineOptions(request, deps));
  } catch (error) {
    return failed(uid, 'internal-error', deps.failureMode, error instanceof Error ? error : new Error(String(error)));
  }
  const used = (names: string[]): { staged?: StagedChoice[] } => {
    const choices = staged?.choices.filter((choice) => names.includes(choice.template)) ?? [];
    return choices.length === 0 ? {} : { staged: choices };
  };
  switch (result.outcome) {
    case 'injected':
      return {
        outcome: 'injected',
        reason: 'injected',
        templates: result.templates,
        problemTemplates: [],
        response: allow(uid, result.patch, result.warnings, result.patchJson),
        ...used(result.templates.map((t) => t.name)),
      };
    case 'skipped':
      return { outcome: 'skipped', reason: result.reason, templates: [], problemTemplates: [], response: allow(uid, [], result.warnings) };
    case 'denied':
      return denied(uid, result, staged?.choices ?? [], deps.failureMode);
  }
}

/**
 * A denial; or, when it names a template in canary whose promoted revision cannot be served
 * here, podpattern's own failure: it cannot decide this pod, and the failure mode answers.
 */
function denied(
  uid: string,
  result: Extract<InjectionResult, { outcome: 'denied' }>,
  choices: StagedChoice[],
  mode: FailureMode,
): Decision {
  const problemTemplates = [...new Set(result.problems.flatMap((problem) => (problem.template === undefined ? [] : [problem.template])))];
  const staged = choices.filter((choice) => problemTemplates.includes(choice.template));
  const unavailable = staged.filter((choice) => choice.serves === 'unavailable');
  if (unavailable.length > 0) {
    const why = unavailable.map(unavailableText).join('; ');
    return { ...failed(uid, 'revision-unavailable', mode, new Error(why), why), staged: unavailable };
  }
  return {
    outcome: 'denied',
    reason: result.reason,
    templates: [],
    problemTemplates,
    ...(staged.length === 0 ? {} : { staged }),
    response: deny(uid, result.message, result.problems, result.warnings),
  };
}

/** The engine options for a pod created in the request's namespace: the setting, the namespace's annotations, the server's version. */
export function engineOptions(request: AdmissionRequest, deps: ReviewDeps): InjectOptions {
  const options: InjectOptions = { nativeSidecars: deps.nativeSidecars };
  const namespace = namespaceOf(request);
  if (namespace !== undefined) {
    options.namespace = namespace;
    const annotations = deps.namespaceAnnotations?.(namespace);
    if (annotations !== undefined) options.namespaceAnnotations = annotations;
    const ranges = deps.limitRanges?.(namespace);
    if (ranges !== undefined) options.limitRanges = ranges;
    const labels = deps.namespaceLabels?.(namespace);
    if (labels !== undefined) options.namespaceLabels = labels;
    const policy = deps.policy?.(namespace);
    if (policy !== undefined) options.policy = policy;
  }
  const version = deps.serverVersion?.();
  if (version !== undefined) options.serverVersion = version;
  return options;
}

function pass(uid: string, reason: PassReason): Decision {
  return { outcome: 'skipped', reason, templates: [], problemTemplates: [], response: allow(uid) };
}

const ERROR_TEXT: Record<ErrorReason, string> = {
  'internal-error': 'podpattern failed while processing this pod',
  'catalog-not-loaded': 'podpattern has not loaded its template catalog yet',
  'deadline-exceeded': "podpattern could not decide within the API server's timeout",
  'revision-unavailable': 'podpattern cannot serve a template in canary to this namespace',
};

/** Longest a detail of a failure gets in the answer. */
const MAX_DETAIL = 1000;

/** The answer when podpattern itself failed: the failure mode decides between admitting and refusing. `detail` says why, to the pod's creator. */
export function failed(uid: string, reason: ErrorReason, mode: FailureMode, error?: Error, detail?: string): Decision {
  const what = detail === undefined ? ERROR_TEXT[reason] : `${ERROR_TEXT[reason]} (${detail.slice(0, MAX_DETAIL)})`;
  const response =
    mode === 'open'
      ? allow(uid, [], [`${what}; the pod was admitted without injection (failure mode open). Recreate it to retry.`])
      : denyInternal(uid, `${what}; the pod was refused (failure mode closed). Retry shortly; if it persists, check the podpattern logs.`);
  return { outcome: 'error', reason, templates: [], problemTemplates: [], response, ...(error === undefined ? {} : { error }) };
}

/** What a review's log line and metrics say about it, besides the decision. */
export interface ReviewFacts {
  uid: string;
  namespace: string | undefined;
  pod: string | undefined;
  kind: string;
  operation: string | undefined;
  dryRun: boolean;
}

/** Longest a pod-supplied name in a log line gets: the longest name Kubernetes accepts. */
const MAX_LOGGED_NAME = 253;

export function factsOf(request: AdmissionRequest): ReviewFacts {
  const namespace = namespaceOf(request);
  const pod = podLabel(request);
  // The request is not validated yet: a "name" can be megabytes, or not a string at all.
  return {
    uid: request.uid,
    namespace: namespace === undefined ? undefined : printable(String(namespace), MAX_LOGGED_NAME),
    pod: pod === undefined ? undefined : printable(String(pod), MAX_LOGGED_NAME),
    kind: request.kind.kind,
    operation: request.operation,
    dryRun: request.dryRun === true,
  };
}

/** The pod's namespace: the request's, or the object's when the request has none. */
function namespaceOf(request: AdmissionRequest): string | undefined {
  const namespace = request.namespace ?? (request.object as PodLike | undefined)?.metadata?.namespace;
  return namespace === '' ? undefined : namespace;
}

/** What the logs call the pod: its name, or its generateName when the API server has not named it yet. */
export function podLabel(request: AdmissionRequest): string | undefined {
  const metadata = (request.object as PodLike | undefined)?.metadata;
  return metadata?.name ?? (metadata?.generateName === undefined ? request.name : `${metadata.generateName}*`);
}
