// Compiles one template into the admission objects that do, inside the API server, what the
// webhook does for a pod that asks for that template alone: a MutatingAdmissionPolicy (and its
// binding) that adds the template, and a ValidatingAdmissionPolicy (and its binding) that
// denies what the webhook denies. Pure: template in, objects or refusals out.
import type { V1Container } from '#kube';
import { startsBeforeApp, type LabelSelector, type Template, type TemplateSpec } from '../model/template.js';
import { filesVolume, grantsOf, withDefaults } from '../engine/compose.js';
import {
  INJECTED_LABEL,
  INJECTION_LABEL,
  INJECT_KEY,
  PATTERN_KEYS,
  POLICY_TEMPLATE_HASH_KEY,
  POLICY_TEMPLATE_LABEL,
  STATUS_KEY,
  fileKey,
} from '../model/keys.js';
import { concat, jsonEscape, list, map, quote, type Part } from './cel.js';
import { PROBLEMS_MESSAGE, annotation, annotationPresent, askedNames, clashProblems, requestProblems, wrongPattern } from './checks.js';
import { fitAnnotations, pullSecretOps } from './fit.js';
import {
  ANNS,
  ANNS_VARIABLE,
  POD_ANNOTATIONS,
  faultVariables,
  parameterProblems,
  parameterVariables,
  rawVariables,
  type ParameterOptions,
  type Variable,
} from './params.js';
import { availabilityVariables, availableMatch, unavailable } from './availability.js';
import * as tenancy from './tenancy.js';
import { policyReviewObjects } from './policy-review.js';
import { refusals } from './refuse.js';
import { tooLong, unparsable } from './reparse.js';
import { renderedAsTemplate } from './likeness.js';
import { criticalLists } from './integrity.js';
import { compileTyped, compileValue, type Scope } from './values.js';

export interface PolicyOptions {
  /** podpattern's own namespace: never matched, like the webhook's. */
  ownNamespace: string;
}

export type Compiled = { ok: true; objects: Record<string, unknown>[] } | { ok: false; template: string; problems: string[] };

/** The API group and version of every admission policy and binding the compiler writes. */
export const API_VERSION = 'admissionregistration.k8s.io/v1';
export const PODS_ON_CREATE = { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] };

/** The object name of a template's policies and bindings. */
export function policyName(template: string): string {
  return `podpattern-${template}`;
}

export function compileTemplate(template: Template, options: PolicyOptions): Compiled {
  // Refused before anything is compiled: every reason at once, and no half-made policy.
  const refused = refusals(template);
  if (refused.length > 0) return { ok: false, template: template.name, problems: refused };
  let objects: Record<string, unknown>[];
  try {
    objects = policyObjects(template, options);
  } catch (error) {
    return { ok: false, template: template.name, problems: [`${template.name}: cannot be compiled: ${(error as Error).message}`] };
  }
  // Every expression is parsed again, so what is printed is CEL the API server can read (or
  // nothing is): a template's text can only ever reach it as quoted data.
  const unreadable = unparsable(objects);
  if (unreadable.length > 0)
    return {
      ok: false,
      template: template.name,
      problems: unreadable.map((p) => `${template.name}: the compiled policy does not parse as CEL, a bug in podpattern policy: ${p}`),
    };
  const long = tooLong(objects);
  if (long.length > 0) return { ok: false, template: template.name, problems: long.map((p) => `${template.name}: ${p}`) };
  return { ok: true, objects };
}

function policyObjects(template: Template, options: PolicyOptions): Record<string, unknown>[] {
  const scope: Scope = { template };
  const native = startsBeforeApp(template.spec, template.spec.pattern) ? 'true' : 'variables.runsToCompletion';
  const mutations = [
    { patchType: 'ApplyConfiguration', applyConfiguration: { expression: applyConfiguration(template, scope, native) } },
    { patchType: 'JSONPatch', jsonPatch: { expression: jsonPatch(template, scope) } },
  ];
  const name = policyName(template.name);
  const labels = { 'app.kubernetes.io/managed-by': 'podpattern', [POLICY_TEMPLATE_LABEL]: template.name };
  const annotations = { [POLICY_TEMPLATE_HASH_KEY]: template.hash };
  const metadata = { name, labels, annotations };
  const matchResources = bindingMatch(options);
  // Availability: the mutating policy's binding selects only the namespaces the template is
  // available to, and both policies judge the ServiceAccount; the validating policy, bound
  // wherever podpattern serves, also judges the namespace, to deny a pod elsewhere.
  const own = { source: POD_ANNOTATIONS, narrow: false };
  const mutating = sharedVariables(template, scope, native, {
    ...own,
    extra: availabilityVariables(template, false),
    gate: unavailable(template, false),
  });
  const validating = sharedVariables(template, scope, native, {
    ...own,
    extra: availabilityVariables(template, true),
    gate: unavailable(template, true),
  });
  return [
    {
      apiVersion: API_VERSION,
      kind: 'MutatingAdmissionPolicy',
      metadata,
      spec: {
        // Every expression is guarded (a bad parameter makes the mutation empty and the
        // validating policy deny), so a failure here is a bug; Ignore matches the "enabled"
        // namespace mode, and in "required" namespaces the chart's required-injection policy
        // refuses a pod left un-injected.
        failurePolicy: 'Ignore',
        reinvocationPolicy: 'IfNeeded',
        matchConstraints: PODS_ON_CREATE,
        matchConditions: [
          ...commonConditions(template, true),
          { name: 'not-injected-yet', expression: `!${annotationPresent(STATUS_KEY)}` },
        ],
        variables: mutating,
        mutations,
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, matchResources: availableMatch(matchResources, template) },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: PODS_ON_CREATE,
        matchConditions: commonConditions(template, false),
        variables: validating,
        validations: [
          { expression: 'variables.problems.size() == 0', messageExpression: PROBLEMS_MESSAGE },
          // On the final pod only (the mutating policy adds the status before the containers,
          // so this cannot be one of the problems it checks between its two mutations).
          forgedStatusValidation(template),
          copiedContainersValidation(template, scope),
        ],
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, validationActions: ['Deny'], matchResources },
    },
    ...patternPolicyObjects(template, { scope, native, mutations, matchResources, labels, annotations }),
    ...policyReviewObjects(template, { matchResources, labels, annotations }),
  ];
}

/**
 * The namespace's PatternPolicy for this template (tenancy.ts): a mutating policy that injects it
 * where the policy requires it into pods that ask for nothing, with the policy's parameters under
 * the pod's own, and a validating policy for the opt-out, forbid and narrowing. Both fail closed,
 * as the webhook does where a policy requires templates.
 */
function patternPolicyObjects(
  template: Template,
  parts: {
    scope: Scope;
    native: string;
    mutations: unknown[];
    matchResources: ReturnType<typeof bindingMatch>;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  },
): Record<string, unknown>[] {
  const { scope, native, matchResources } = parts;
  const name = tenancy.tenancyPolicyName(template.name);
  const metadata = { name, labels: parts.labels, annotations: parts.annotations };
  const policy = { source: tenancy.REQUIRED_SOURCE, narrow: true };
  const said = tenancy.tenancyVariables(template);
  const mutating = sharedVariables(template, scope, native, {
    ...policy,
    extra: [...availabilityVariables(template, false), ...said],
    gate: unavailable(template, false),
  });
  const validating = sharedVariables(template, scope, native, {
    ...policy,
    extra: [...availabilityVariables(template, true), ...said],
    gate: tenancy.tenancyGate(template),
  });
  return [
    {
      apiVersion: API_VERSION,
      kind: 'MutatingAdmissionPolicy',
      metadata,
      spec: {
        paramKind: tenancy.POLICY_PARAM_KIND,
        failurePolicy: 'Fail',
        reinvocationPolicy: 'IfNeeded',
        matchConstraints: PODS_ON_CREATE,
        matchConditions: tenancy.requireConditions(template),
        variables: mutating,
        mutations: parts.mutations,
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'MutatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, paramRef: tenancy.POLICY_PARAM_REF, matchResources: availableMatch(matchResources, template) },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        paramKind: tenancy.POLICY_PARAM_KIND,
        failurePolicy: 'Fail',
        matchConstraints: PODS_ON_CREATE,
        matchConditions: tenancy.tenancyConditions(template),
        variables: validating,
        validations: tenancy.tenancyValidations(template),
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, paramRef: tenancy.POLICY_PARAM_REF, validationActions: ['Deny'], matchResources },
    },
  ];
}

/** The namespaces the webhook serves (both modes) less the system ones; podpattern's own pods never. */
/** The namespaces and objects every binding matches: those the webhook serves. */
export function bindingMatch(options: PolicyOptions): { namespaceSelector: LabelSelector; objectSelector: LabelSelector } {
  return {
    namespaceSelector: {
      matchExpressions: [
        { key: INJECTION_LABEL, operator: 'In', values: ['enabled', 'required'] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', options.ownNamespace] },
      ],
    },
    objectSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['podpattern'] }] },
  };
}

/**
 * The pod asks for this template and no other (templates composed in one pod are the
 * webhook's: their clash checks and status record span templates); it has not opted out and
 * is not a mirror pod. The mutating policy also wants the template under its own pattern key.
 */
function commonConditions(template: Template, ownKeyOnly: boolean): { name: string; expression: string }[] {
  const names = askedNames();
  const asks = `${names}.size() > 0 && ${names}.all(n, n == ${quote(template.name)})`;
  const own = `${annotation(PATTERN_KEYS[template.spec.pattern])}.split(",").exists(n, n.trim() == ${quote(template.name)})`;
  return [
    { name: 'asks-for-this-template-alone', expression: ownKeyOnly ? `${asks} && ${own}` : asks },
    { name: 'not-opted-out', expression: `${annotation(INJECT_KEY)} != "false"` },
    { name: 'not-a-mirror-pod', expression: `!${annotationPresent('kubernetes.io/config.mirror')}` },
  ];
}

/** The status record the webhook writes, as a CEL string; its prefix says "this template, this hash". */
function statusPrefix(template: Template): string {
  return JSON.stringify({ templates: [{ name: template.name, pattern: template.spec.pattern, hash: template.hash }] }).slice(0, -1);
}

/** A CEL boolean: the pod's status says this template, this hash, is injected. */
function claimsInjected(template: Template): string {
  return `${quote(STATUS_KEY)} in ${ANNS} && ${ANNS}[${quote(STATUS_KEY)}].startsWith(${quote(statusPrefix(template))})`;
}

interface ProblemOptions extends ParameterOptions {
  /** Variables the problems read, after the annotations: availability's, the PatternPolicy's. */
  extra: Variable[];
  /**
   * A CEL list of the refusal that stops the template's parameters from being read (forbidden
   * by the namespace's policy, not available to the pod), as the webhook refuses it after a
   * wrong pattern and before anything else of the template; `[]` when none can apply.
   */
  gate: string;
}

function sharedVariables(template: Template, scope: Scope, native: string, options: ProblemOptions): Variable[] {
  const status = `${ANNS}[${quote(STATUS_KEY)}]`;
  const foreign = `${STATUS_KEY} records an injection by other templates or another version of ${template.name}; webhook-less mode cannot undo one: remove the injected containers, volumes and annotations, or use the webhook`;
  const raws = rawVariables(template, options.source ?? POD_ANNOTATIONS);
  const fromRaw = { ...options, source: raws.source };
  const parameters = parameterProblems(template, fromRaw);
  // Listed under the wrong pattern, the template's parameters are still checked (as the webhook
  // does, so one denial says everything); what it would clash with is not.
  const read = `(variables.wrongPattern.size() > 0 ? variables.wrongPattern + ${joinLists(parameters)} : (${[...parameters, `(!(${quote(STATUS_KEY)} in ${ANNS}) ? ${joinLists(clashProblems(template, scope, native))} : (${status}.startsWith(${quote(statusPrefix(template))}) ? [] : [${quote(foreign)}]))`].map((p) => `(${p})`).join(' + ')}))`;
  const gated = options.gate !== '[]';
  const problems = [...requestProblems(), gated ? `(variables.gate.size() > 0 ? variables.wrongPattern + variables.gate : ${read})` : read];
  return [
    ANNS_VARIABLE,
    ...options.extra,
    { name: 'runsToCompletion', expression: 'has(object.spec.restartPolicy) && object.spec.restartPolicy in ["Never", "OnFailure"]' },
    ...raws.variables,
    ...parameterVariables(template, raws.source),
    ...faultVariables(template, fromRaw),
    { name: 'wrongPattern', expression: wrongPattern(template) },
    ...(gated ? [{ name: 'gate', expression: options.gate }] : []),
    { name: 'problems', expression: joinLists(problems) },
  ];
}

/**
 * A status naming this template and hash is only a claim (a pod author can write it): the pod
 * must hold every container, init container and volume the template adds, or the patterns were
 * never injected. The webhook injects such a pod; a policy cannot tell which objects to add
 * back, so it refuses it. A template that adds no containers is judged by its volumes.
 */
function forgedStatusValidation(template: Template): { expression: string; message: string } {
  const containers = [...template.spec.containers, ...template.spec.initContainers].map((c) => c.name);
  const volumes = addedVolumeNames(template);
  const container = (name: string): string =>
    `(object.spec.containers.exists(c, c.name == ${quote(name)}) || (has(object.spec.initContainers) && object.spec.initContainers.exists(c, c.name == ${quote(name)})))`;
  const volume = (name: string): string => `(has(object.spec.volumes) && object.spec.volumes.exists(v, v.name == ${quote(name)}))`;
  const present = [...containers.map(container), ...volumes.map(volume)];
  const claims = claimsInjected(template);
  const lacking = [
    ...(containers.length > 0 ? [`containers (${containers.join(', ')})`] : []),
    ...(volumes.length > 0 ? [`volumes (${volumes.join(', ')})`] : []),
  ];
  return {
    // Only an empty template adds nothing, and the catalog refuses one.
    expression: present.length === 0 ? 'true' : `!(${claims}) || (${present.join(' && ')})`,
    message: `podpattern cannot inject this pod: ${STATUS_KEY} says template ${template.name} is injected, but the pod lacks its ${lacking.join(' or ')}; the status was not written by podpattern for this pod: remove it and create the pod again`,
  };
}

/**
 * A status naming this template and hash on a pod whose copies of the template's containers or
 * files are not what it renders for this pod (a command prefixed, a capability added, another
 * image tag, a file of its own): something else runs under our name. The webhook injects such a
 * pod again; a policy cannot replace what is there, so it refuses it. Checked on the final pod,
 * after every mutation.
 */
function copiedContainersValidation(template: Template, scope: Scope): { expression: string; message: string } {
  const claims = claimsInjected(template);
  return {
    expression: `!(${claims}) || (${renderedAsTemplate(template, scope)})`,
    message: `podpattern cannot inject this pod: ${STATUS_KEY} says template ${template.name} is injected, but the pod's copy of its containers or files is not what it renders for this pod (command, args, image other than by registry host, securityContext, restartPolicy, or a file's text differ): the webhook would inject it again, which webhook-less mode cannot: remove the status and the copies, and create the pod again`,
  };
}

/** The volumes the webhook adds for a template: its own, and one for its files. */
function addedVolumeNames(template: Template): string[] {
  return [
    ...template.spec.volumes.map((v) => v.name),
    ...(Object.keys(template.spec.files).length > 0 ? [template.compiled.files.volume] : []),
  ];
}

function joinLists(lists: string[]): string {
  return lists.length === 0 ? '[]' : lists.map((l) => `(${l})`).join(' + ');
}

/** Containers as the webhook adds them: restricted securityContext and resources by default. */
function prepared(containers: V1Container[], native: boolean, spec: TemplateSpec): V1Container[] {
  return containers.map((c) => (native ? { ...withDefaults(c, spec), restartPolicy: 'Always' } : withDefaults(c, spec)));
}

/**
 * Annotations (the status record, rendered files, the template's pod annotations unless the
 * pod sets them) and the app wiring, as an apply configuration: maps and keyed lists (env by
 * name, volumeMounts by mountPath, containers by name) merge, as the webhook's additions do.
 */
function applyConfiguration(template: Template, scope: Scope, native: string): string {
  const spec = template.spec;
  const entries: [string, string][] = [[STATUS_KEY, statusExpression(template, scope, native)]];
  for (const [file, text] of Object.entries(spec.files)) entries.push([fileKey(template.name, file), compileValue(text, scope)]);
  for (const [key, value] of Object.entries(spec.podAnnotations)) {
    entries.push([key, `${quote(key)} in ${ANNS} ? string(${ANNS}[${quote(key)}]) : ${compileValue(value, scope)}`]);
  }
  entries.push(...fitAnnotations(template));
  const fields = [`metadata: Object.metadata{annotations: ${map(entries)}, labels: ${map([[INJECTED_LABEL, quote('true')]])}}`];
  const env = (spec.app.env ?? []).map((e) => compileTyped(e, 'Object.spec.containers.env', scope, 'env-list'));
  const mounts = (spec.app.volumeMounts ?? []).map((m) => compileTyped(m, 'Object.spec.containers.volumeMounts', scope));
  if (env.length + mounts.length > 0) {
    const wiring = [...(env.length > 0 ? [`env: ${list(env)}`] : []), ...(mounts.length > 0 ? [`volumeMounts: ${list(mounts)}`] : [])];
    const injected = list([...spec.initContainers, ...spec.containers].map((c) => quote(c.name)));
    fields.push(
      `spec: Object.spec{containers: object.spec.containers.filter(c, !(c.name in ${injected})).map(c, Object.spec.containers{name: c.name, ${wiring.join(', ')}})}`,
    );
  }
  return `variables.problems.size() != 0 ? Object{} : Object{${fields.join(', ')}}`;
}

/**
 * Volumes and containers appended in the webhook's order (the template's volumes, its files
 * volume, its init containers, then its containers): JSON Patch, as these lists may be absent.
 */
function jsonPatch(template: Template, scope: Scope): string {
  const spec = template.spec;
  const files = Object.keys(spec.files);
  const volumes = [...spec.volumes, ...(files.length > 0 ? [filesVolume(template)] : [])];
  // Typed by the list they go to: native sidecars are Object.spec.initContainers.
  const v = (items: unknown[], field: string): string[] => items.map((item) => compileTyped(item, `Object.spec.${field}`, scope));
  const ops = [append('volumes', v(volumes, 'volumes'))];
  const inits = v(prepared(spec.initContainers, false, spec), 'initContainers');
  const sidecars = v(prepared(spec.containers, true, spec), 'initContainers');
  if (startsBeforeApp(spec, spec.pattern)) {
    ops.push(append('initContainers', [...inits, ...sidecars]));
  } else {
    ops.push(
      `variables.runsToCompletion ? ${append('initContainers', [...inits, ...sidecars])} : ` +
        `(${append('initContainers', inits)} + ${append('containers', v(prepared(spec.containers, false, spec), 'containers'))})`,
    );
  }
  ops.push(pullSecretOps(template));
  return `variables.problems.size() != 0 ? [] : ${ops.map((o) => `(${o})`).join(' + ')}`;
}

/** Ops that append items to /spec/<field>, creating the list when the pod has none. */
function append(field: string, items: string[]): string {
  if (items.length === 0) return '[]';
  const path = `/spec/${field}`;
  const one = items.map((item) => `JSONPatch{op: "add", path: ${quote(`${path}/-`)}, value: ${item}}`);
  return `(has(object.spec.${field}) ? ${list(one)} : [JSONPatch{op: "add", path: ${quote(path)}, value: ${list(items)}}])`;
}

/** podpattern.dev/status as the webhook writes it (JSON, keys in its order), as a CEL string. */
export function statusExpression(template: Template, scope: Scope, native: string): string {
  const spec = template.spec;
  const names = (list: V1Container[]): string[] => list.map((c) => c.name);
  const files = Object.keys(spec.files).map((f) => fileKey(template.name, f));
  const volumes = addedVolumeNames(template);
  const head = (containers: string[], inits: string[]): string =>
    JSON.stringify({
      templates: [{ name: template.name, pattern: spec.pattern, hash: template.hash }],
      containers,
      initContainers: inits,
      volumes,
    }).slice(0, -1);
  const nativeHead = head([], [...names(spec.initContainers), ...names(spec.containers)]);
  const classicHead = head(names(spec.containers), names(spec.initContainers));
  const podAnnotationKeys = Object.keys(spec.podAnnotations);
  const annotationList: JsonItem[] = [
    ...files.map((f) => ({ json: JSON.stringify(f) })),
    ...(podAnnotationKeys.length === 0
      ? []
      : [{ computed: `${list(podAnnotationKeys.map(quote))}.filter(k, !(k in ${ANNS})).map(k, "\\"" + k + "\\"")` }]),
  ];
  const parts: Part[] = [{ expression: `${native} ? ${quote(nativeHead)} : ${quote(classicHead)}` }, { text: ',"annotations":[' }];
  parts.push(...jsonList(annotationList));
  parts.push({ text: `],"appEnv":${JSON.stringify((spec.app.env ?? []).map((e) => e.name))},"appVolumeMounts":[` });
  const mountPaths = (spec.app.volumeMounts ?? []).map((m) => `"\\"" + ${jsonEscape(compileValue(m.mountPath, scope))} + "\\""`);
  parts.push(...jsonList(mountPaths.map((m) => ({ computed: `[${m}]` }))));
  // The webhook's order: the template's init containers, then its containers.
  const grants = [...new Set([...spec.initContainers, ...spec.containers].flatMap((c) => grantsOf(withDefaults(c, spec))))];
  const tail = (sidecars: string[]): string => `],"sidecars":${JSON.stringify(sidecars)},"grants":${JSON.stringify(grants)},"images":[`;
  parts.push({ expression: `${native} ? ${quote(tail(names(spec.containers)))} : ${quote(tail([]))}` });
  const critical = criticalLists(
    [...spec.initContainers, ...spec.containers].map((c) => withDefaults(c, spec)),
    scope,
  );
  parts.push(
    { expression: critical.images },
    { text: '],"ports":[' },
    { expression: critical.ports },
    { text: '],"securityContexts":[' },
    { expression: critical.securityContexts },
    { text: ']}' },
  );
  return concat(parts);
}

/** An item of a JSON list: fixed JSON text, or a CEL list of JSON-encoded strings computed at admission. */
type JsonItem = { json: string } | { computed: string };

/** The items of a JSON list, joined with commas. */
function jsonList(items: JsonItem[]): Part[] {
  if (items.length === 0) return [];
  const lists = items.map((item) => ('json' in item ? `[${quote(item.json)}]` : `(${item.computed})`));
  return [{ expression: `(${lists.join(' + ')}).join(",")` }];
}
