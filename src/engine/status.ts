// podpattern.dev/status: the record of an injection. What of it may be undone is provenance.ts's
// call: the record is written by podpattern but can be forged by anyone who writes the pod.
import { STATUS_KEY } from '../model/keys.js';
import type { Critical } from './integrity.js';
import type { InjectedTemplate } from './types.js';

export interface Status extends Critical {
  templates: InjectedTemplate[];
  containers: string[];
  initContainers: string[];
  volumes: string[];
  /** Annotations podpattern wrote besides the status: rendered files and podAnnotations. */
  annotations: string[];
  /** Env var names and mount paths added to the application's containers. */
  appEnv: string[];
  appVolumeMounts: string[];
  /**
   * What the final-state check (the chart's ValidatingAdmissionPolicy) holds the pod to, as the
   * API server stores it after every mutation: the init containers that are native sidecars
   * (restartPolicy Always, or the pod never leaves Init), and the privileges the templates give
   * their containers: capabilities added, and `privileged` or `allowPrivilegeEscalation` where
   * a template sets them. Names only: a few dozen bytes.
   */
  sidecars: string[];
  grants: string[];
  // (Critical) images, ports, securityContexts: each injected container's critical fields, as
  // `<container>=<value>` (integrity.ts), which the final-state check compares field by field.
}

export function emptyStatus(templates: InjectedTemplate[]): Status {
  return {
    templates,
    containers: [],
    initContainers: [],
    volumes: [],
    annotations: [],
    appEnv: [],
    appVolumeMounts: [],
    sidecars: [],
    grants: [],
    images: [],
    ports: [],
    securityContexts: [],
  };
}

/** Longer than any record podpattern writes (a few dozen names): anything longer is not ours. */
const MAX_STATUS_LENGTH = 64 * 1024;

/** The pod's status record; undefined when absent, 'unreadable' when it is not ours. */
export function readStatus(annotations: Record<string, string>): Status | 'unreadable' | undefined {
  const text = annotations[STATUS_KEY];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || text.length > MAX_STATUS_LENGTH) return 'unreadable';
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
      sidecars: list(parsed.sidecars),
      grants: list(parsed.grants),
      images: list(parsed.images),
      ports: list(parsed.ports),
      securityContexts: list(parsed.securityContexts),
    };
  } catch {
    return 'unreadable';
  }
}

export function sameTemplates(a: InjectedTemplate[], b: InjectedTemplate[]): boolean {
  return a.length === b.length && a.every((t, i) => t.name === b[i]?.name && t.hash === b[i]?.hash);
}
