// What the webhook does to fit an injected pod to its cluster (engine/fit.ts), as CEL: the
// default container, the autoscaler's list of evictable local volumes, the template's pull
// secrets, and the unsupported-os denial, in the webhook's words.
import { DEFAULT_CONTAINER_KEY, OS_LABEL, SAFE_TO_EVICT_LOCAL_VOLUMES_KEY } from '../model/keys.js';
import { DEFAULT_OS, KNOWN_OS, type Template } from '../model/template.js';
import { concat, list, quote } from './cel.js';
import { ANNS } from './params.js';

/** Annotation entries of the apply configuration: set where the webhook sets them. */
export function fitAnnotations(template: Template): [string, string][] {
  const key = quote(DEFAULT_CONTAINER_KEY);
  // The apply configuration runs before the containers are appended: the first is the pod's own.
  // `object` is dyn when the API server compiles the policy, and its CEL environment wants every
  // value of a map literal of one type (homogeneous aggregate literals): hence string().
  const entries: [string, string][] = [
    [DEFAULT_CONTAINER_KEY, `${key} in ${ANNS} ? string(${ANNS}[${key}]) : string(object.spec.containers[0].name)`],
  ];
  const evictable =
    template.spec.keepLocalVolumes === true ? [] : template.spec.volumes.filter((v) => v.emptyDir !== undefined).map((v) => v.name);
  if (evictable.length > 0) {
    const k = quote(SAFE_TO_EVICT_LOCAL_VOLUMES_KEY);
    const listed = `string(${ANNS}[${k}])`;
    const names = list(evictable.map(quote));
    // engine/fit.ts mergeVolumeList: the pod's text kept, the names it lacks appended.
    entries.push([
      SAFE_TO_EVICT_LOCAL_VOLUMES_KEY,
      `!(${k} in ${ANNS}) || ${listed}.trim() == "" ? ${quote(evictable.join(','))} : ${listed} + ${names}.filter(n, !(n in ${listed}.split(",").map(s, s.trim()))).map(n, "," + n).join("")`,
    ]);
  }
  return entries;
}

/** JSON Patch ops adding the template's pull secrets the pod lacks, after its own. */
export function pullSecretOps(template: Template): string {
  const names = (template.spec.imagePullSecrets ?? []).map((s) => s.name);
  if (names.length === 0) return '[]';
  const item = (name: string): string => `Object.spec.imagePullSecrets{name: ${name}}`;
  const secrets = 'object.spec.imagePullSecrets';
  return (
    `(has(${secrets}) ? ${list(names.map(quote))}.filter(n, !${secrets}.exists(s, s.name == n)).map(n, JSONPatch{op: "add", path: "/spec/imagePullSecrets/-", value: ${item('n')}}) : ` +
    `[JSONPatch{op: "add", path: "/spec/imagePullSecrets", value: ${list(names.map((n) => item(quote(n))))}}])`
  );
}

/** The unsupported-os denial: spec.os.name, the nodeSelector, or every required node affinity term naming another OS. */
export function osProblem(template: Template): string {
  const runsOn = template.spec.os ?? DEFAULT_OS;
  const spec = 'object.spec';
  const label = quote(OS_LABEL);
  const named = `has(${spec}.os) && has(${spec}.os.name) && ${spec}.os.name != ""`;
  const selected = `has(${spec}.nodeSelector) && ${label} in ${spec}.nodeSelector && ${spec}.nodeSelector[${label}] != ""`;
  const terms = `${spec}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`;
  const hasTerms = `has(${spec}.affinity) && has(${spec}.affinity.nodeAffinity) && has(${spec}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) && has(${terms}) && size(${terms}) > 0`;
  const onOs = (t: string): string => `(has(${t}.matchExpressions) ? ${t}.matchExpressions : []).filter(e, e.key == ${label})`;
  const constrained = `${hasTerms} && ${terms}.all(t, size(${onOs('t')}) > 0)`;
  const allows = (os: string): string =>
    `${terms}.exists(t, ${onOs('t')}.all(e, e.operator == "In" ? (has(e.values) && ${os} in e.values) : e.operator == "NotIn" ? !(has(e.values) && ${os} in e.values) : e.operator != "DoesNotExist"))`;
  const message = (describe: string): string =>
    concat([
      { text: `template ${template.name} runs on ${runsOn.join(', ')} only, and this pod is for ` },
      { expression: describe },
      { text: '; podpattern does not inject it: drop the template, or use one made for that operating system' },
    ]);
  const known = `${list(KNOWN_OS.map(quote))}.filter(o, ${allows('o')})`;
  const ours = list(runsOn.map(quote));
  return (
    `${named} ? (${spec}.os.name in ${ours} ? [] : [${message(`${spec}.os.name + " (spec.os.name)"`)}]) : ` +
    `${selected} ? (${spec}.nodeSelector[${label}] in ${ours} ? [] : [${message(`${spec}.nodeSelector[${label}] + ${quote(` (nodeSelector ${OS_LABEL})`)}`)}]) : ` +
    `${constrained} && !${ours}.exists(o, ${allows('o')}) ? [${message(`(size(${known}) > 0 ? ${known}.join(" or ") : "no operating system podpattern knows") + ${quote(` (required node affinity on ${OS_LABEL})`)}`)}] : []`
  );
}
