// Shared by the install tests: run the real helm, parse manifests to plain JSON, and check
// objects against the Kubernetes schemas (kubernetes-models) or, for kinds it does not know
// (CRD instances of cert-manager and the Prometheus Operator), against their required shape.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { helmBinary } from '../../scripts/helm.mjs';

export const repoRoot = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
export const chartDir = join(repoRoot, 'helm', 'podpattern');
export const webhookConfigDir = join(repoRoot, 'webhook-config');

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: any };
  [k: string]: any;
};

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const result = spawnSync(helmBinary(), args, { encoding: 'utf8', cwd: repoRoot });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}

export interface Render extends HelmResult {
  objects: K8sObject[];
}

/**
 * `helm template` of the chart. Each entry of `set` is a `--set` value ("key=value"), unless it
 * starts with "--" (a raw flag such as "--set-string=a=b"). Release and namespace default to podpattern.
 */
export function renderChart(set: string[] = [], release = 'podpattern', namespace = 'podpattern'): Render {
  const args = ['template', release, chartDir, '--namespace', namespace, '--include-crds'];
  for (const value of set) args.push(...(value.startsWith('--') ? [value] : ['--set', value]));
  const result = helm(args);
  return { ...result, objects: result.status === 0 ? parseManifests(result.stdout) : [] };
}

/** Parses multi-document YAML into plain JSON objects (no Date objects), dropping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return JSON.parse(JSON.stringify(doc.toJS())) as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null && typeof object === 'object');
}

export function readManifests(file: string): K8sObject[] {
  return parseManifests(readFileSync(file, 'utf8'));
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as K8sObject;
}

/** Kinds whose schemas kubernetes-models lacks: the fields their controllers require. */
const requiredShape: Record<string, string[][]> = {
  'cert-manager.io/v1/Issuer': [['spec']],
  'cert-manager.io/v1/Certificate': [
    ['spec', 'secretName'],
    ['spec', 'issuerRef', 'name'],
  ],
  'monitoring.coreos.com/v1/ServiceMonitor': [
    ['spec', 'selector'],
    ['spec', 'endpoints'],
  ],
  // kubernetes-models has no MutatingAdmissionPolicy yet (admissionregistration.k8s.io/v1 since Kubernetes 1.36).
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicy': [
    ['spec', 'matchConstraints'],
    ['spec', 'mutations'],
  ],
  'admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding': [['spec', 'policyName']],
  'monitoring.coreos.com/v1/PodMonitor': [
    ['spec', 'selector'],
    ['spec', 'podMetricsEndpoints'],
  ],
  'monitoring.coreos.com/v1/PrometheusRule': [['spec', 'groups']],
};

const clusterScoped = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding',
]);

/** Every problem with one object, as "Kind/name: message"; empty when it is valid. */
export async function validateObject(object: K8sObject): Promise<string[]> {
  const label = `${object.kind}/${object.metadata?.name ?? '?'}`;
  const problems: string[] = [];
  if (!object.metadata?.name) problems.push(`${label}: metadata.name is missing`);
  if (clusterScoped.has(object.kind) === (object.metadata?.namespace !== undefined)) {
    problems.push(
      `${label}: ${clusterScoped.has(object.kind) ? 'a cluster-scoped object has a namespace' : 'a namespaced object has no namespace'}`,
    );
  }
  const shape = requiredShape[`${object.apiVersion}/${object.kind}`];
  if (shape !== undefined) {
    for (const path of shape) {
      const value = path.reduce<any>((node, key) => (node === undefined || node === null ? undefined : node[key]), object);
      if (value === undefined || value === null || value === '') problems.push(`${label}: ${path.join('.')} is required`);
    }
    return problems;
  }
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : [undefined, object.apiVersion];
  const modulePath =
    group === undefined ? `kubernetes-models/${version}/${object.kind}` : `kubernetes-models/${group}/${version}/${object.kind}`;
  let Model: new (data: unknown) => { validate(): void };
  try {
    const module = (await import(modulePath)) as Record<string, new (data: unknown) => { validate(): void }>;
    Model = module[object.kind] as new (data: unknown) => { validate(): void };
  } catch {
    return [...problems, `${label}: no schema for ${object.apiVersion} ${object.kind}; add its shape to requiredShape`];
  }
  try {
    new Model(object).validate();
  } catch (error) {
    problems.push(`${label}: ${(error as Error).message}`);
  }
  return problems;
}

/** The pod-spec parts of Pod Security "restricted" that a Deployment can get wrong. */
export function restrictedProblems(podSpec: any): string[] {
  const problems: string[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC']) if (podSpec[field]) problems.push(`${field} is set`);
  for (const volume of podSpec.volumes ?? []) problems.push(...volumeProblems(volume));
  for (const container of [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])]) {
    problems.push(...containerProblems(container, podSpec.securityContext ?? {}));
  }
  return problems;
}

const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];

function volumeProblems(volume: any): string[] {
  const kinds = Object.keys(volume).filter((k) => k !== 'name');
  return kinds.filter((kind) => !RESTRICTED_VOLUMES.includes(kind)).map((kind) => `volume ${volume.name} uses ${kind}`);
}

/** A container's securityContext under "restricted"; `pod` is the pod's, which it inherits from. */
function containerProblems(container: any, pod: any): string[] {
  const problems: string[] = [];
  const sc = container.securityContext ?? {};
  const name = `container ${container.name}`;
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${name}: allowPrivilegeEscalation must be false`);
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${name}: capabilities must drop ALL`);
  if ((sc.capabilities?.add ?? []).some((c: string) => c !== 'NET_BIND_SERVICE')) problems.push(`${name}: adds capabilities`);
  if (sc.privileged) problems.push(`${name}: privileged`);
  if (sc.runAsNonRoot !== true && pod.runAsNonRoot !== true) problems.push(`${name}: runAsNonRoot must be true`);
  if ((sc.runAsUser ?? pod.runAsUser) === 0) problems.push(`${name}: runs as uid 0`);
  const seccomp = sc.seccompProfile?.type ?? pod.seccompProfile?.type;
  if (!['RuntimeDefault', 'Localhost'].includes(seccomp)) problems.push(`${name}: seccompProfile must be RuntimeDefault or Localhost`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${name}: readOnlyRootFilesystem must be true (podpattern's own rule)`);
  return problems;
}
