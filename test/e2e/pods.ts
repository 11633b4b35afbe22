// Manifests for the e2e tests, and what a stored pod must show after a template was injected.
// Built-in templates are read through the project's own catalog loader, so the expectations
// follow the catalog as it changes.
import { parse } from 'yaml';
import type { RunResult } from './cluster.js';

export type Json = Record<string, any>;

/** What the tests need of a catalog template (a subset of src/model/template.ts Template). */
export interface TemplateInfo {
  name: string;
  spec: {
    pattern: 'sidecar' | 'ambassador' | 'adapter';
    parameters: Record<
      string,
      {
        type: string;
        description?: string;
        default?: unknown;
        required?: boolean;
        enum?: unknown[];
        minimum?: number;
        maximum?: number;
        pattern?: string;
      }
    >;
    containers: Array<{ name: string }>;
    initContainers: Array<{ name: string }>;
    volumes: Array<{ name: string }>;
    files: Record<string, string>;
    app: { env?: Array<{ name: string }>; volumeMounts?: Array<{ name: string }> };
    podAnnotations: Record<string, string>;
  };
}

export async function loadBuiltinCatalog(): Promise<TemplateInfo[]> {
  const catalog = (await import('../../src/catalog/index.js')) as unknown as {
    loadBuiltinTemplates(): { templates: TemplateInfo[]; failures: Array<{ name: string; problems: string[] }> };
  };
  const { templates, failures } = catalog.loadBuiltinTemplates();
  if (failures.length > 0) throw new Error(`built-in templates fail to load: ${JSON.stringify(failures)}`);
  return templates;
}

/**
 * Example values for required string parameters that have no default, by parameter name, for
 * when the parameter's description gives none ("…, e.g. mysql."). Strings under a `pattern`
 * cannot be made up; a new parameter without either fails the test, naming it.
 */
const STRING_EXAMPLES: Record<string, string> = {
  namespace: 'default',
  'tls-secret': 'web-tls',
};

/** Annotations that ask for `template` with a valid value for each required parameter. */
export function requestAnnotations(template: TemplateInfo): Record<string, string> {
  const annotations: Record<string, string> = { [`podpattern.dev/${template.spec.pattern}`]: template.name };
  for (const [name, spec] of Object.entries(template.spec.parameters)) {
    if (spec.required !== true || spec.default !== undefined) continue;
    annotations[`${template.name}.podpattern.dev/${name}`] = exampleValue(template.name, name, spec);
  }
  return annotations;
}

function exampleValue(template: string, name: string, spec: TemplateInfo['spec']['parameters'][string]): string {
  if (spec.enum !== undefined && spec.enum.length > 0) return String(spec.enum[0]);
  if (spec.type === 'integer' || spec.type === 'number') return String(spec.minimum ?? 1);
  if (spec.type === 'boolean') return 'true';
  const fits = (value: string | undefined): value is string =>
    value !== undefined && (spec.pattern === undefined || new RegExp(spec.pattern).test(value));
  const documented = /\be\.g\.\s+(\S+?)[.,;)]?(?:\s|$)/.exec(spec.description ?? '')?.[1];
  if (fits(documented)) return documented;
  const listed = STRING_EXAMPLES[name];
  if (fits(listed)) return listed;
  throw new Error(
    `no valid example value for required parameter ${template}/${name}: give its description an "e.g." or add one to STRING_EXAMPLES in test/e2e/pods.ts`,
  );
}

export function namespaceManifest(name: string, injection?: 'enabled' | 'required'): Json {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: injection === undefined ? {} : { 'podpattern.dev/injection': injection } },
  };
}

/** A plain application pod (never run: there is no scheduler or kubelet). */
export function podManifest(name: string, namespace: string, annotations: Record<string, string> = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, annotations },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }] }],
    },
  };
}

export function parseYaml(text: string): Json {
  return parse(text) as Json;
}

export function describe(result: RunResult): string {
  return `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** A test message: short when the command succeeded, the whole story when it did not. */
export function outcome(result: RunResult, what = 'succeeds'): string {
  return result.code === 0 ? what : `${what}? ${describe(result)}`;
}

function names(list: Array<{ name: string }> | undefined): string[] {
  return (list ?? []).map((item) => item.name);
}

/** Every way `pod` falls short of carrying `template`; empty when it carries it fully. */
export function missingFromPod(pod: Json, template: TemplateInfo): string[] {
  const annotations: Record<string, string> = pod.metadata?.annotations ?? {};
  return [
    ...missingObjects(pod, template),
    ...missingFiles(pod, template, annotations),
    ...Object.keys(template.spec.podAnnotations ?? {})
      .filter((key) => annotations[key] === undefined)
      .map((key) => `pod annotation ${key}`),
    ...missingAppWiring(pod, template),
    ...missingStatus(template, annotations['podpattern.dev/status']),
  ];
}

/** The template's containers, init containers and volumes, each by name. */
function missingObjects(pod: Json, { spec }: TemplateInfo): string[] {
  const problems: string[] = [];
  const containers = names(pod.spec?.containers);
  const initContainers = names(pod.spec?.initContainers);
  const volumes = names(pod.spec?.volumes);
  // A template's containers run as regular containers or, where podpattern makes them native
  // sidecars, as init containers with restartPolicy Always.
  const nativeSidecars = (pod.spec?.initContainers ?? [])
    .filter((c: Json) => c.restartPolicy === 'Always')
    .map((c: Json) => c.name as string);
  for (const c of names(spec.containers)) if (!containers.includes(c) && !nativeSidecars.includes(c)) problems.push(`container ${c}`);
  for (const c of names(spec.initContainers)) if (!initContainers.includes(c)) problems.push(`init container ${c}`);
  for (const v of names(spec.volumes)) if (!volumes.includes(v)) problems.push(`volume ${v}`);
  return problems;
}

/** The template's files: a downwardAPI volume, and one pod annotation per file. */
function missingFiles(pod: Json, template: TemplateInfo, annotations: Record<string, string>): string[] {
  const problems: string[] = [];
  const fileNames = Object.keys(template.spec.files ?? {});
  if (fileNames.length > 0) {
    const filesVolume = (pod.spec?.volumes ?? []).find((v: Json) => v.name === `${template.name}-files`);
    if (filesVolume?.downwardAPI === undefined) problems.push(`downwardAPI volume ${template.name}-files`);
  }
  for (const file of fileNames) {
    if (annotations[`${template.name}.podpattern.dev/file.${file}`] === undefined) problems.push(`file annotation for ${file}`);
  }
  return problems;
}

/** The app container, with the env and mounts the template wires into it. */
function missingAppWiring(pod: Json, { spec }: TemplateInfo): string[] {
  const problems: string[] = [];
  const app = (pod.spec?.containers ?? []).find((c: Json) => c.name === 'app');
  if (app === undefined) problems.push('the app container itself');
  for (const e of names(spec.app?.env)) if (!names(app?.env).includes(e)) problems.push(`app env ${e}`);
  for (const m of names(spec.app?.volumeMounts)) if (!names(app?.volumeMounts).includes(m)) problems.push(`app volumeMount ${m}`);
  return problems;
}

function missingStatus(template: TemplateInfo, status: string | undefined): string[] {
  if (status === undefined) return ['annotation podpattern.dev/status'];
  return status.includes(`"${template.name}"`) ? [] : [`${template.name} in podpattern.dev/status (${status})`];
}

/** True when the stored pod shows no sign of podpattern: only the app container, no status. */
export function isUntouched(pod: Json): boolean {
  const annotations: Record<string, string> = pod.metadata?.annotations ?? {};
  return (
    names(pod.spec?.containers).join(',') === 'app' &&
    (pod.spec?.initContainers ?? []).length === 0 &&
    annotations['podpattern.dev/status'] === undefined
  );
}
