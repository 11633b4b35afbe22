// The critical fields of an injected container (src/engine/integrity.ts) as CEL: the integrity
// guard (webhook-config/validatingadmissionpolicy.yaml) builds them from the container the API
// server is about to store, and the mutating policies build them from what they add, for the
// status record they write. Both texts come from these functions (a test holds the guard's YAML
// to them), so the webhook, the policies and the guard write one format.
import type { V1Container, V1SecurityContext } from '#kube';
import { portsText, SECURITY_SCALARS, securityText } from '../engine/integrity.js';
import { quote } from './cel.js';
import { REGISTRY_HOST } from './likeness.js';
import { compileValue, type Scope } from './values.js';

/** A CEL string: the ports of the CEL list `ports` as portsText writes them. */
export function portsCel(ports: string): string {
  return `${ports}.map(p, string(p.containerPort) + "/" + (has(p.protocol) ? p.protocol : "TCP") + ((has(p.hostPort) && p.hostPort != 0) ? ":" + string(p.hostPort) : "")).join("+")`;
}

/** A CEL string: the CEL securityContext object `s` as securityText writes it. */
export function securityCel(s: string): string {
  const scalars = SECURITY_SCALARS.map((f) => `(has(${s}.${f}) ? "${f}:" + string(${s}.${f}) + ";" : "")`);
  const capabilities = ['add', 'drop'].map(
    (f) =>
      `((has(${s}.capabilities) && has(${s}.capabilities.${f}) && ${s}.capabilities.${f}.size() > 0) ? "${f}:" + ${s}.capabilities.${f}.join("+") + ";" : "")`,
  );
  const profiles = [
    ['seccompProfile', 'seccomp'],
    ['appArmorProfile', 'appArmor'],
  ].map(([f, label]) => `((has(${s}.${f}) && has(${s}.${f}.type)) ? "${label}:" + ${s}.${f}.type + ";" : "")`);
  return [...scalars, ...capabilities, ...profiles].join(' + ');
}

/**
 * A CEL boolean: image `a` is image `r` as podpattern's reinvocation still takes it for its own
 * (docs/troubleshooting.md, "Registry mirrors"): the same repository path and tag behind any
 * registry host (Docker Hub's library/ optional), and the digest `r` pins, or any digest where
 * `r` pins none. `a` and `r` are CEL variables.
 */
export function sameImageCel(a: string, r: string): string {
  // Its name without the digest, then without a registry host, then without library/.
  const path = (x: string): string =>
    `[${x}.split("@")[0]].map(n, (n.split("/").size() > 1 && n.split("/")[0].matches(${quote(REGISTRY_HOST)})) ? n.substring(n.indexOf("/") + 1) : n)` +
    `.map(h, h.startsWith("library/") ? h.substring(8) : h)[0]`;
  const digest = `(${r}.split("@").size() == 1 ? ${a}.split("@").size() <= 2 : (${a}.split("@").size() == 2 && ${a}.split("@")[1] == ${r}.split("@")[1]))`;
  return `${a} == ${r} || (${path(a)} == ${path(r)} && ${digest})`;
}

/** The guard's list of injected containers whose image is not the one recorded, by name. */
export const GUARD_CHANGED_IMAGES =
  `variables.injectedContainers.filter(c, variables.recordedImages.exists(q, q.startsWith('"' + c.name + '=')) &&\n` +
  `  !variables.recordedImages.exists(q, q.startsWith('"' + c.name + '=') && has(c.image) &&\n` +
  `    [q.substring(c.name.size() + 2, q.size() - 1)].exists(r, ${sameImageCel('c.image', 'r')}))).map(c, c.name)`;

/** The guard's reading of container `c`'s ports, as a CEL string. */
export const GUARD_PORTS = `has(c.ports) ? ${portsCel('c.ports')} : ""`;
/** The guard's reading of container `c`'s securityContext, as a CEL string. */
export const GUARD_SECURITY = `has(c.securityContext) ? ${securityCel('c.securityContext')} : ""`;

/** What a field holds that a pod's annotation may set: rendered at admission, not known when compiling. */
function placeholders(value: unknown): boolean {
  return JSON.stringify(value ?? null).includes('$(');
}

/** One status list entry (`"<container>=<value>"`, JSON-quoted), as a CEL list of none or one: a value the guard cannot read back is left out, as the webhook leaves it out. */
function entry(name: string, value: string): string {
  return `[${quote(`"${name}=`)} + (${value}) + "\\""].filter(q, !q.substring(1, q.size() - 1).matches(${quote('["\\\\,\\]\\x00-\\x1f]')}))`;
}

/** A CEL string: ports a parameter sets, as portsText writes them, field by field (a CEL map holds one type of value). */
function compiledPorts(ports: NonNullable<V1Container['ports']>, scope: Scope): string {
  const typed = (value: unknown): string => compileValue(value, scope, 'plain', true);
  const each = ports.map((p) => {
    const host = p.hostPort === undefined ? '""' : `(${typed(p.hostPort)} != 0 ? ":" + string(${typed(p.hostPort)}) : "")`;
    return `string(${typed(p.containerPort)}) + "/" + ${p.protocol === undefined ? '"TCP"' : compileValue(p.protocol, scope)} + ${host}`;
  });
  return each.length === 0 ? '""' : each.join(' + "+" + ');
}

/**
 * A CEL string: a securityContext a parameter sets part of, as securityText writes it. Which
 * fields are set is known here; only values are computed.
 */
function compiledSecurity(context: V1SecurityContext, scope: Scope): string {
  const typed = (value: unknown): string => compileValue(value, scope, 'plain', true);
  const parts: string[] = [];
  const fields = context as Record<string, unknown>;
  for (const f of SECURITY_SCALARS)
    if (fields[f] !== undefined && fields[f] !== null) parts.push(`"${f}:" + string(${typed(fields[f])}) + ";"`);
  for (const f of ['add', 'drop'] as const) {
    const items = context.capabilities?.[f] ?? [];
    if (items.length > 0) parts.push(`"${f}:" + ${typed(items)}.join("+") + ";"`);
  }
  if (context.seccompProfile?.type !== undefined) parts.push(`"seccomp:" + ${typed(context.seccompProfile.type)} + ";"`);
  if (context.appArmorProfile?.type !== undefined) parts.push(`"appArmor:" + ${typed(context.appArmorProfile.type)} + ";"`);
  return parts.length === 0 ? '""' : parts.join(' + ');
}

/**
 * The CEL lists of the critical fields of `containers` (with their defaults, in the order they
 * are added), each a list of JSON-quoted entries as the webhook's status holds them. A field with
 * no placeholder is written as the webhook writes it; one a parameter sets is built at admission.
 */
export function criticalLists(containers: V1Container[], scope: Scope): { images: string; ports: string; securityContexts: string } {
  const images = containers.map((c) =>
    placeholders(c.image) ? entry(c.name, compileValue(c.image, scope)) : entry(c.name, quote(c.image ?? '')),
  );
  const ports = containers.map((c) => entry(c.name, placeholders(c.ports) ? compiledPorts(c.ports ?? [], scope) : quote(portsText(c))));
  const security = containers.map((c) =>
    entry(
      c.name,
      placeholders(c.securityContext) ? compiledSecurity(c.securityContext ?? {}, scope) : quote(securityText(c.securityContext)),
    ),
  );
  const joined = (items: string[]): string => (items.length === 0 ? '""' : `(${items.join(' + ')}).join(",")`);
  return { images: joined(images), ports: joined(ports), securityContexts: joined(security) };
}
