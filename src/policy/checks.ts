// The webhook's denials for one template, as CEL list expressions of messages: what the pod's
// annotations ask wrongly, and what the template would clash with in the pod as it arrives.
// Each message is written to read as the webhook's does (engine/requests, engine/rules).
import type { V1Container } from '#kube';
import { PATTERNS, type CompiledListener, type Template } from '../model/template.js';
import { probePort } from '../template/listeners.js';
import { RULES, type RuleName } from '../engine/rules.js';
import { DOMAIN, INJECT_KEY, PATTERN_KEYS, STATUS_KEY, parameterKey } from '../model/keys.js';
import { concat, list, quote, type Part } from './cel.js';
import { ANNS, parameterVariable } from './params.js';
import { osProblem } from './fit.js';
import { compileValue, type Scope } from './values.js';

/** Every container the pod declares, app and init. */
const POD_CONTAINERS = '(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []))';

const KNOWN_DOMAIN_KEYS = [...Object.values(PATTERN_KEYS), INJECT_KEY, STATUS_KEY];

/** An annotation's value in a matchCondition (variables are not available there), or "". */
export function annotation(key: string): string {
  return `(${annotationPresent(key)} ? object.metadata.annotations[${quote(key)}] : "")`;
}

export function annotationPresent(key: string): string {
  return `(has(object.metadata.annotations) && ${quote(key)} in object.metadata.annotations)`;
}

/** A CEL list of the template names the pod lists under the three pattern keys, trimmed, empty ones dropped. */
export function askedNames(): string {
  return `${list(PATTERNS.map((p) => annotation(PATTERN_KEYS[p])))}.join(",").split(",").map(n, n.trim()).filter(n, n != "")`;
}

/**
 * The webhook's denial message for `variables.problems`, on one line: the API server refuses a
 * policy message with line breaks (and falls back to naming the failed expression).
 */
export const PROBLEMS_MESSAGE =
  '"podpattern cannot inject this pod" + (variables.problems.size() == 1 ? "" : " (" + string(variables.problems.size()) + " problems)") + ": " + variables.problems.join(" - ")';

/** podpattern.dev/inject with a value other than "true" or "false"; unknown podpattern.dev/ keys. */
export function requestProblems(): string[] {
  const inject = `${ANNS}[${quote(INJECT_KEY)}]`;
  return [
    `${quote(INJECT_KEY)} in ${ANNS} && !(${inject} in ["true", "false"]) ? [${concat([{ text: `${INJECT_KEY} is '` }, { expression: inject }, { text: `'; set it to "false" to opt the pod out, or remove it` }])}] : []`,
    `${ANNS}.filter(k, k.startsWith(${quote(`${DOMAIN}/`)}) && !(k in ${list(KNOWN_DOMAIN_KEYS.map(quote))})).map(k, k + ${quote(` is not a podpattern annotation; the ${DOMAIN}/ keys are ${KNOWN_DOMAIN_KEYS.join(', ')}`)})`,
  ];
}

/** The template listed first under another pattern's key: the webhook's wrong-pattern denial. */
export function wrongPattern(template: Template): string {
  const own = template.spec.pattern;
  let expression = '[]';
  for (const pattern of [...PATTERNS].reverse()) {
    if (pattern === own) {
      expression = `${listedUnder(template.name, pattern)} ? [] : ${expression}`;
      continue;
    }
    const message = `${PATTERN_KEYS[pattern]}: template ${template.name} is ${withArticle(own)} template, not ${withArticle(pattern)}; list it under ${PATTERN_KEYS[own]}`;
    expression = `${listedUnder(template.name, pattern)} ? [${quote(message)}] : ${expression}`;
  }
  return `(${expression})`;
}

function listedUnder(name: string, pattern: (typeof PATTERNS)[number]): string {
  const key = quote(PATTERN_KEYS[pattern]);
  return `(${key} in ${ANNS} && ${ANNS}[${key}].split(",").exists(n, n.trim() == ${quote(name)}))`;
}

function withArticle(pattern: string): string {
  return `${pattern === 'sidecar' ? 'a' : 'an'} ${pattern}`;
}

type PolicyRule = (template: Template, scope: Scope, native: string) => string[];

/**
 * The webhook's rules (engine/rules.ts) that the pod as it arrives can break, by the same
 * names: container and volume names, ports, app env vars and mount paths, and listening helpers
 * in a hostNetwork pod. `native` is a CEL boolean: the template's containers become native
 * sidecars (init containers with restartPolicy Always).
 */
const POLICY_RULES: Partial<Record<RuleName, PolicyRule>> = {
  volumes: (template) =>
    template.spec.volumes.map(
      (volume) =>
        `has(object.spec.volumes) && object.spec.volumes.exists(v, v.name == ${quote(volume.name)}) ? [${quote(`volume '${volume.name}': template ${template.name} declares it differently from the pod's volume '${volume.name}'`)}] : []`,
    ),
  initContainerNames: (template) => template.spec.initContainers.map((container) => nameClash(template, container)),
  hostNetwork: (template, scope) => hostNetworkProblems(template, scope),
  containerNames: (template) => template.spec.containers.map((container) => nameClash(template, container)),
  appEnv: (template, scope) => (template.spec.app.env ?? []).map((env) => envClash(template, env, scope)),
  appMounts: (template, scope) => (template.spec.app.volumeMounts ?? []).map((mount) => mountClash(template, mount, scope)),
  // Loopback-only listeners declare no containerPort but take a port all the same; the webhook
  // counts them for the template's first long-running container.
  ports: (template, scope, native) => {
    const loopback = template.compiled.listeners.map((l) => ({ port: loopbackPort(l), parameter: l.parameter }));
    return template.spec.containers.flatMap((container, i) => portClashes(template, container, scope, native, i === 0 ? loopback : []));
  },
};

/** The names of the webhook's rules this compiler writes as CEL, in the webhook's order. */
export const POLICY_RULE_NAMES = (Object.keys(RULES) as RuleName[]).filter((name) => POLICY_RULES[name] !== undefined);

/** Clashes with what the pod itself declares, rule by rule in the webhook's order. */
export function clashProblems(template: Template, scope: Scope, native: string): string[] {
  const out = POLICY_RULE_NAMES.flatMap((name) => (POLICY_RULES[name] as PolicyRule)(template, scope, native));
  // After every clash, as the webhook checks the operating system once the templates are composed.
  out.push(osProblem(template));
  return out;
}

function nameClash(template: Template, container: V1Container): string {
  const message = `container name '${container.name}': template ${template.name} adds a container of that name, and so does the pod's container '${container.name}'`;
  return `${POD_CONTAINERS}.exists(c, c.name == ${quote(container.name)}) ? [${quote(message)}] : []`;
}

/** A loopback listener's port as CEL: the number, or the parameter's value. */
function loopbackPort(listener: CompiledListener): string {
  return listener.parameter === undefined ? String(listener.port) : `variables.${parameterVariable(listener.parameter)}`;
}

/** Helpers that listen, in a hostNetwork pod: on the node's ports, or on its loopback. */
function hostNetworkProblems(template: Template, scope: Scope): string[] {
  const spec = template.spec;
  const out: string[] = [];
  const hostNetwork = 'has(object.spec.hostNetwork) && object.spec.hostNetwork';
  for (const container of [...spec.initContainers, ...spec.containers]) {
    const ports = listening(container, scope);
    if (ports.length === 0) continue;
    const text = concat(ports.flatMap((port, i) => [...(i === 0 ? [] : [{ text: ', ' }]), ...port]));
    const message = concat([
      { text: `the pod uses hostNetwork: true, and template ${template.name}'s container '${container.name}' listens (` },
      { expression: text },
      {
        text: '), which would bind that port on the node itself; podpattern does not inject templates that listen into host-network pods: drop hostNetwork or this template',
      },
    ]);
    out.push(`${hostNetwork} ? [${message}] : []`);
  }
  const local = template.compiled.listeners;
  if (local.length > 0) {
    const ports = local.flatMap((l, i): Part[] => [
      { text: i === 0 ? '127.0.0.1:' : ', 127.0.0.1:' },
      { expression: `string(${loopbackPort(l)})` },
    ]);
    const message = concat([
      { text: `the pod uses hostNetwork: true, and template ${template.name} listens on ` },
      ...ports,
      {
        text: ` (${local[0]?.where}), which would be the node's own loopback, shared with every host-network pod on the node; podpattern does not inject templates that listen into host-network pods: drop hostNetwork or this template`,
      },
    ]);
    out.push(`${hostNetwork} ? [${message}] : []`);
  }
  return out;
}

/** A container's listening ports as the webhook names them ("port 8443/TCP", "probe port 8080"). */
function listening(container: V1Container, scope: Scope): Part[][] {
  const out: Part[][] = [];
  for (const port of container.ports ?? []) {
    out.push([
      { text: 'port ' },
      { expression: `string(${compileValue(port.containerPort, scope, 'plain', true)})` },
      { text: `/${port.protocol ?? 'TCP'}` },
    ]);
  }
  if ((container.ports ?? []).length === 0) {
    const port = [container.livenessProbe, container.readinessProbe, container.startupProbe].map(probePort).find((p) => p !== undefined);
    if (port !== undefined) out.push([{ text: 'probe port ' }, { expression: `string(${compileValue(port, scope, 'plain', true)})` }]);
  }
  return out;
}

/**
 * The webhook walks the running containers in order (native sidecars first, then the app's)
 * and reports a port held twice when one side is a template's: a native sidecar clashes with
 * the pod's earlier sidecars and with its first app container on the port, a classic container
 * with the last of the pod's containers before it.
 */
function portClashes(
  template: Template,
  container: V1Container,
  scope: Scope,
  native: string,
  loopback: { port: string; parameter: string | undefined }[],
): string[] {
  const out: string[] = [];
  const parameters = template.compiled.portParameters[container.name] ?? [];
  const declared = (container.ports ?? []).map((port, i) => ({
    number: compileValue(port.containerPort, scope, 'plain', true),
    protocol: port.protocol ?? 'TCP',
    parameter: parameters[i],
  }));
  for (const { number, protocol: proto, parameter } of [
    ...declared,
    ...loopback.map((l) => ({ number: l.port, protocol: 'TCP', parameter: l.parameter })),
  ]) {
    const protocol = quote(proto);
    const holds = `has(c.ports) && c.ports.exists(p, p.containerPort == ${number} && (has(p.protocol) ? p.protocol : "TCP") == ${protocol})`;
    const sidecars = `(has(object.spec.initContainers) ? object.spec.initContainers : []).filter(c, has(c.restartPolicy) && c.restartPolicy == "Always" && ${holds})`;
    const apps = `object.spec.containers.filter(c, ${holds})`;
    const key = [{ text: 'port ' }, { expression: `string(${number})` }, { text: `/${proto}: ` }];
    const ours = `template ${template.name}'s container '${container.name}'`;
    const hint =
      parameter === undefined
        ? [
            { text: `; template ${template.name} does not let a pod move container port ` },
            { expression: `string(${number})` },
            { text: ', so these two cannot share a pod' },
          ]
        : [
            { text: `; set ${parameterKey(template.name, parameter)} to a free port (it is ` },
            { expression: `string(${number})` },
            { text: ')' },
          ];
    const last = (l: string): string => `${l}[size(${l}) - 1].name`;
    const oursFirst = (others: string): string =>
      concat([
        ...key,
        { text: `${ours} listens on it, and so does the pod's container '` },
        { expression: last(others) },
        { text: "'" },
        ...hint,
      ]);
    const podFirst = (others: string): string =>
      concat([
        ...key,
        { text: "the pod's container '" },
        { expression: `${others}[0].name` },
        { text: `' listens on it, and so does ${ours}` },
        ...hint,
      ]);
    // A container whose name clashes is not added, so the webhook never sees its ports.
    const added = `!${POD_CONTAINERS}.exists(c, c.name == ${quote(container.name)})`;
    out.push(
      `!(${added}) ? [] : ${native} ? ((${sidecars}.size() > 0 ? [${oursFirst(sidecars)}] : []) + (${apps}.size() > 0 ? [${podFirst(apps)}] : [])) : ` +
        `((${sidecars} + ${apps}).size() > 0 ? [${oursFirst(`(${sidecars} + ${apps})`)}] : [])`,
    );
  }
  return out;
}

function envClash(template: Template, env: { name: string; value?: string; valueFrom?: unknown }, scope: Scope): string {
  const value = env.value === undefined ? undefined : compileValue(env.value, scope, 'expanded');
  const same = value === undefined ? 'false' : `has(e.value) && e.value == ${value} && !has(e.valueFrom)`;
  const ours = value === undefined ? [{ text: 'a valueFrom reference' }] : [{ text: "'" }, { expression: value }, { text: "'" }];
  const message = concat([
    { text: `env var ${env.name} in container '` },
    { expression: 'c.name' },
    { text: `': template ${template.name} sets ` },
    ...ours,
    { text: " but the pod's own env var has " },
    {
      expression: `c.env.filter(e, e.name == ${quote(env.name)}).all(e, has(e.value)) ? "'" + c.env.filter(e, e.name == ${quote(env.name)})[0].value + "'" : "a valueFrom reference"`,
    },
  ]);
  return `object.spec.containers.filter(c, has(c.env) && c.env.exists(e, e.name == ${quote(env.name)} && !(${same}))).map(c, ${message})`;
}

function mountClash(template: Template, mount: { name: string; mountPath: string }, scope: Scope): string {
  const path = compileValue(mount.mountPath, scope);
  const message = concat([
    { text: 'mount path ' },
    { expression: path },
    { text: " in container '" },
    { expression: 'c.name' },
    { text: `': template ${template.name} mounts volume '${mount.name}' there, but the pod's own mount of volume '` },
    { expression: `c.volumeMounts.filter(m, m.mountPath == ${path})[0].name` },
    { text: "' is already there" },
  ]);
  return `object.spec.containers.filter(c, has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == ${path} && m.name != ${quote(mount.name)})).map(c, ${message})`;
}
