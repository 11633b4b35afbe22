// Every annotation and label key podpattern reads or writes (the README's annotation table).
// Pure constants and the few functions that build or take apart keys, so no other file
// spells a key by hand.
import type { Pattern } from './template.js';
import { DOMAIN } from './domain.js';

export { DOMAIN };

/**
 * `podpattern.dev/sidecar`, `podpattern.dev/ambassador`, `podpattern.dev/adapter`: a comma
 * separated list of template names to inject. Each template must be of that pattern, so the
 * pod's manifest says what kind of helper it gets. On a Namespace the same keys give defaults
 * for pods that set none of the three.
 */
export const PATTERN_KEYS: Record<Pattern, string> = {
  sidecar: `${DOMAIN}/sidecar`,
  ambassador: `${DOMAIN}/ambassador`,
  adapter: `${DOMAIN}/adapter`,
};

/**
 * `podpattern.dev/inject: "false"` opts a pod out of everything, whatever its namespace or its
 * other annotations ask for. Any other value than "true" or "false" is a mistake and denied.
 */
export const INJECT_KEY = `${DOMAIN}/inject`;

/**
 * `podpattern.dev/status`: written by podpattern only. JSON recording the templates injected
 * (name, pattern, content hash) and the names of everything added, so that a second pass
 * can tell the pod is already done and, when the templates differ, undo the first pass; and
 * the names the final-state check holds the stored pod to: its native sidecars and the
 * privileges the templates give their containers.
 */
export const STATUS_KEY = `${DOMAIN}/status`;

/**
 * `podpattern.dev/injected: "true"`: a label on every pod podpattern injected, so a watch of
 * injected pods can select them on the API server (labels, unlike annotations, can be
 * selected) and read their metadata only: the server's index of injected pods, and the
 * impact check of a template change against the workloads that run it, are built from it.
 */
export const INJECTED_LABEL = `${DOMAIN}/injected`;

/**
 * `podpattern.dev/force-reason: <why>` on a PatternTemplate: accepts an update or delete that
 * the impact check found would deny the next pods of running workloads. The reason (1 to 1,024
 * characters) is recorded in an Event on the template.
 */
export const FORCE_REASON_KEY = `${DOMAIN}/force-reason`;

/**
 * `podpattern.dev/healed` on a Deployment, StatefulSet or DaemonSet: written by podpattern's
 * healing when it restarted the workload because its pods had missed injection (asked for
 * templates, admitted with no status while the webhook was down). JSON `{"at": <RFC 3339>,
 * "generation": <the workload's generation the restart made>}`. While the workload is still at
 * that generation, pods of it that still miss injection are reported, never restarted again.
 */
export const HEALED_KEY = `${DOMAIN}/healed`;

/**
 * `kubectl.kubernetes.io/restartedAt` on a workload's pod template: what `kubectl rollout
 * restart` sets (the time, RFC 3339) to make the controller roll new pods; healing sets it too,
 * so the workload's own strategy and PodDisruptionBudget pace the restart.
 */
export const RESTARTED_AT_KEY = 'kubectl.kubernetes.io/restartedAt';

/**
 * `<template>.podpattern.dev/<parameter>`: one parameter of one template, as a string; the
 * template's schema types and bounds it. Parameter names never contain a dot, which keeps the
 * `file.` names below apart from them.
 */
export function parameterKey(template: string, parameter: string): string {
  return `${template}.${DOMAIN}/${parameter}`;
}

/**
 * `<template>.podpattern.dev/file.<filename>`: a rendered config file of the template, written
 * by podpattern and mounted into the template's containers by a downwardAPI volume.
 */
export function fileKey(template: string, file: string): string {
  return `${template}.${DOMAIN}/file.${file}`;
}

/** The downwardAPI volume that carries a template's files: `<template>-files`. */
export function filesVolumeName(template: string): string {
  return `${template}-files`;
}

/** The label on a Namespace that opts it in: `enabled` (fail open) or `required` (fail closed). */
export const INJECTION_LABEL = `${DOMAIN}/injection`;

/**
 * `podpattern.dev/defaults=enabled` on a Namespace: its annotations give defaults, so the
 * webhook configuration sends every pod created there to podpattern (a webhook's
 * matchConditions see only the pod, not its namespace). Elsewhere only pods with a
 * podpattern.dev annotation are sent.
 */
export const DEFAULTS_LABEL = `${DOMAIN}/defaults`;

/**
 * On the admission policies `podpattern policy` writes: `podpattern.dev/template` (label) names
 * the template compiled, `podpattern.dev/template-hash` (annotation) its content hash, so an
 * operator can tell a policy made from an older version of the template.
 */
export const POLICY_TEMPLATE_LABEL = `${DOMAIN}/template`;
export const POLICY_TEMPLATE_HASH_KEY = `${DOMAIN}/template-hash`;

/**
 * `podpattern.dev/promoted: "true"` on a template's ControllerRevision: its spec may be served in
 * every namespace, not only in the template's canary namespaces (spec.rollout.canary). The
 * promoted revision of a template is its highest-numbered promoted one.
 */
export const PROMOTED_LABEL = `${DOMAIN}/promoted`;

/**
 * `podpattern.dev/rollout-paused: <reason>` on a cluster PatternTemplate: its rollout is paused
 * (the rollout controller restarts nothing more for it); the value says why, in one line.
 * Written by the controller when a restarted workload fails its health gate or cannot be
 * restarted, and by `podpattern rollout pause`; cleared by resume, promote and undo.
 */
export const ROLLOUT_PAUSED_KEY = `${DOMAIN}/rollout-paused`;

/**
 * `kubectl.kubernetes.io/default-container`: the container `kubectl logs`, `exec` and `attach`
 * pick without `-c` (kubectl docs, "Well-Known Labels, Annotations and Taints"). Set, when the
 * pod has none, to the pod's first own container, so an injected helper is never the default.
 */
export const DEFAULT_CONTAINER_KEY = 'kubectl.kubernetes.io/default-container';

/**
 * `cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes`: a comma separated list of the
 * pod's local volumes the cluster autoscaler may throw away when it drains a node (cluster
 * autoscaler FAQ, "What types of pods can prevent CA from removing a node?"). Injected emptyDir
 * volumes are added to it, unless their template sets `keepLocalVolumes`.
 */
export const SAFE_TO_EVICT_LOCAL_VOLUMES_KEY = 'cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes';

/** The node label for the node's operating system, as set by the kubelet (linux, windows). */
export const OS_LABEL = 'kubernetes.io/os';

export type TemplateKey = { kind: 'parameter'; template: string; parameter: string } | { kind: 'file'; template: string; file: string };

const TEMPLATE_SUFFIX = `.${DOMAIN}`;

/** Takes apart `<template>.podpattern.dev/<name>`; anything else is not a template key. */
export function parseTemplateKey(key: string): TemplateKey | undefined {
  // Read for every annotation of every pod: a key that is not a template's is told apart
  // without cutting it up.
  const slash = key.indexOf('/');
  if (slash <= TEMPLATE_SUFFIX.length || !key.startsWith(TEMPLATE_SUFFIX, slash - TEMPLATE_SUFFIX.length)) return undefined;
  const template = key.slice(0, slash - TEMPLATE_SUFFIX.length);
  const name = key.slice(slash + 1);
  if (name.startsWith('file.')) return { kind: 'file', template, file: name.slice('file.'.length) };
  return { kind: 'parameter', template, parameter: name };
}

const DOMAIN_PREFIX = `${DOMAIN}/`;

/** True for `podpattern.dev/<anything>`: keys in our own domain. */
export function isDomainKey(key: string): boolean {
  return key.startsWith(DOMAIN_PREFIX);
}

/** True for every key podpattern reads: `podpattern.dev/<name>` and `<template>.podpattern.dev/<name>`. */
export function isOwnKey(key: string): boolean {
  return isDomainKey(key) || parseTemplateKey(key) !== undefined;
}

/**
 * `podpattern.dev/policy` on a Namespace, set by podpattern's controller: `require` when the
 * namespace's PatternPolicy requires templates (a webhook entry that fails closed then sees
 * every pod created there, with or without podpattern annotations), `present` when it has a
 * policy that requires none. Where the policy cannot be read, a namespace with the label is
 * refused pods rather than admitted unchecked.
 */
export const POLICY_LABEL = `${DOMAIN}/policy`;

/** The annotation the kubelet sets on a mirror pod (the API's view of a static pod), which no admission may change. */
export const MIRROR_POD_KEY = 'kubernetes.io/config.mirror';
