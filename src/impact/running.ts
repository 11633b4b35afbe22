// What a running pod's injected part would look like from another podpattern version: its
// injected containers, volumes and rendered annotations (named by its podpattern.dev/status)
// against those of the next pod the other version renders. The running pod is as the API server
// stores it, so the fields the API server defaults (a port's protocol, a probe's timings, an
// HTTP probe's scheme, a field reference's apiVersion) are defaulted on both sides before they
// are compared, and the ServiceAccount admission plugin's token mount is left out. Defaults:
// https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/
import { STATUS_KEY } from '../model/keys.js';
import type { PodLike } from '../engine/types.js';
import { readStatus, type Status } from '../engine/status.js';

/** The ServiceAccount admission plugin mounts the API token here in every container. */
const TOKEN_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const MAX_FIELDS = 8;
const COMPARED = [
  'image',
  'command',
  'args',
  'workingDir',
  'env',
  'ports',
  'resources',
  'securityContext',
  'restartPolicy',
  'startupProbe',
  'readinessProbe',
  'livenessProbe',
  'lifecycle',
  'volumeMounts',
] as const;

type Container = Record<string, unknown> & { name?: string };
type Lists = 'containers' | 'initContainers';

/**
 * The fields in which `next`'s injected part differs from `running`'s, as
 * `containers[name].field`; undefined when `running` carries no readable status (it cannot be
 * told apart from the application).
 */
export function injectedDifferences(running: PodLike, next: PodLike): string[] | undefined {
  const was = readStatus(running.metadata?.annotations ?? {});
  const will = readStatus(next.metadata?.annotations ?? {});
  if (was === undefined || was === 'unreadable' || will === undefined || will === 'unreadable') return undefined;
  const fields = [
    ...union(injectedNames(was), injectedNames(will)).flatMap((name) => containerDifferences(name, running, next)),
    ...volumeDifferences(was.volumes, will.volumes),
    ...union(was.annotations, will.annotations)
      .filter((key) => key !== STATUS_KEY && running.metadata?.annotations?.[key] !== next.metadata?.annotations?.[key])
      .map((key) => `metadata.annotations[${key}]`),
  ];
  return fields.length <= MAX_FIELDS ? fields : [...fields.slice(0, MAX_FIELDS), `${fields.length - MAX_FIELDS} more`];
}

function volumeDifferences(was: string[], will: string[]): string[] {
  return union(was, will).flatMap((volume) =>
    !was.includes(volume) ? [`volumes[${volume}] added`] : !will.includes(volume) ? [`volumes[${volume}] removed`] : [],
  );
}

function injectedNames(status: Status): string[] {
  return [...status.containers, ...status.initContainers];
}

function containerDifferences(name: string, running: PodLike, next: PodLike): string[] {
  const was = find(running, name);
  const will = find(next, name);
  if (was === undefined) return will === undefined ? [] : [`${will.list}[${name}] added`];
  if (will === undefined) return [`${was.list}[${name}] removed`];
  const fields = was.list === will.list ? [] : [`${will.list}[${name}] (was in ${was.list})`];
  for (const field of COMPARED) {
    if (JSON.stringify(normal(field, was.container[field])) !== JSON.stringify(normal(field, will.container[field])))
      fields.push(`${will.list}[${name}].${field}`);
  }
  return fields;
}

function find(pod: PodLike, name: string): { list: Lists; container: Container } | undefined {
  for (const list of ['containers', 'initContainers'] as const) {
    const container = ((pod.spec as unknown as Record<Lists, Container[] | undefined>)[list] ?? []).find((c) => c.name === name);
    if (container !== undefined) return { list, container };
  }
  return undefined;
}

/** A field with the API server's defaults filled in, empty lists and resources as absent, keys sorted. */
function normal(field: (typeof COMPARED)[number], value: unknown): unknown {
  const filled = defaulted(field, value);
  return Array.isArray(filled) && filled.length === 0 ? undefined : filled;
}

function defaulted(field: (typeof COMPARED)[number], value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (field === 'ports' && Array.isArray(value)) return value.map((port: Record<string, unknown>) => sorted({ protocol: 'TCP', ...port }));
  if (field.endsWith('Probe')) return probe(value as Record<string, unknown>);
  if (field === 'env' && Array.isArray(value)) return value.map(envVar);
  if (field === 'volumeMounts' && Array.isArray(value))
    return value.filter((m: { mountPath?: string }) => m.mountPath !== TOKEN_MOUNT).map(sorted);
  if (field === 'resources') return emptyAsAbsent(value);
  return sorted(value);
}

function probe(value: Record<string, unknown>): unknown {
  const http = value.httpGet as Record<string, unknown> | undefined;
  return sorted({
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
    ...value,
    ...(http === undefined ? {} : { httpGet: { scheme: 'HTTP', ...http } }),
  });
}

function envVar(value: Record<string, unknown>): unknown {
  const from = value.valueFrom as { fieldRef?: Record<string, unknown> } | undefined;
  if (from?.fieldRef === undefined) return sorted(value);
  return sorted({ ...value, valueFrom: { ...from, fieldRef: { apiVersion: 'v1', ...from.fieldRef } } });
}

function emptyAsAbsent(value: unknown): unknown {
  const object = sorted(value) as Record<string, unknown>;
  const kept = Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== undefined && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0)),
  );
  return Object.keys(kept).length === 0 ? undefined : kept;
}

/** A copy with object keys in order, so two encodings of one value compare equal. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
  );
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
