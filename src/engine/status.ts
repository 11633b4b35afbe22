// podpattern.dev/status: the record of an injection, and how to undo one (SPEC §3).
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { STATUS_KEY } from './keys.js';
import type { InjectedTemplate, PodLike } from './types.js';

export interface Status {
  templates: InjectedTemplate[];
  containers: string[];
  initContainers: string[];
  volumes: string[];
  /** Annotations podpattern wrote besides the status: rendered files and podAnnotations. */
  annotations: string[];
  /** Env var names and mount paths added to the application's containers. */
  appEnv: string[];
  appVolumeMounts: string[];
}

export function emptyStatus(templates: InjectedTemplate[]): Status {
  return { templates, containers: [], initContainers: [], volumes: [], annotations: [], appEnv: [], appVolumeMounts: [] };
}

/** The pod's status record; undefined when absent, 'unreadable' when it is not ours. */
export function readStatus(annotations: Record<string, string>): Status | 'unreadable' | undefined {
  const text = annotations[STATUS_KEY];
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<Status>;
    if (!Array.isArray(parsed.templates)) return 'unreadable';
    const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    return {
      templates: parsed.templates.filter((t) => typeof t?.name === 'string' && typeof t.hash === 'string'),
      containers: list(parsed.containers),
      initContainers: list(parsed.initContainers),
      volumes: list(parsed.volumes),
      annotations: list(parsed.annotations),
      appEnv: list(parsed.appEnv),
      appVolumeMounts: list(parsed.appVolumeMounts),
    };
  } catch {
    return 'unreadable';
  }
}

export function sameTemplates(a: InjectedTemplate[], b: InjectedTemplate[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.hash === b[i]?.hash);
}

/** Removes what an earlier injection added, so the pod can be injected afresh. Mutates `pod`. */
export function stripInjection(pod: PodLike, status: Status): void {
  const spec = pod.spec as V1PodSpec;
  const annotations = pod.metadata?.annotations ?? {};
  spec.containers = spec.containers.filter((c) => !status.containers.includes(c.name));
  if (spec.initContainers !== undefined) spec.initContainers = dropEmpty(spec.initContainers.filter((c) => !status.initContainers.includes(c.name)));
  if (spec.volumes !== undefined) spec.volumes = dropEmpty(spec.volumes.filter((v) => !status.volumes.includes(v.name)));
  for (const key of [...status.annotations, STATUS_KEY]) delete annotations[key];
  for (const container of spec.containers) stripApp(container, status);
  if (spec.initContainers === undefined) delete spec.initContainers;
  if (spec.volumes === undefined) delete spec.volumes;
}

function stripApp(container: V1Container, status: Status): void {
  if (container.env !== undefined) container.env = dropEmpty(container.env.filter((e) => !status.appEnv.includes(e.name)));
  if (container.volumeMounts !== undefined) container.volumeMounts = dropEmpty(container.volumeMounts.filter((m) => !status.appVolumeMounts.includes(m.mountPath)));
  if (container.env === undefined) delete container.env;
  if (container.volumeMounts === undefined) delete container.volumeMounts;
}

function dropEmpty<T>(list: T[]): T[] | undefined {
  return list.length === 0 ? undefined : list;
}
