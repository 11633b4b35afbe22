// The Helm chart's rendered objects, changed only where Kubernetes 1.20 lacks an API or a
// field. kubectl validates against the server's OpenAPI and refuses unknown fields, so each
// newer field is removed here by name, with the version that brought it. Anything else
// newer than 1.20 still fails the test, which is how a new adaptation gets noticed.
import { parseAllDocuments } from 'yaml';
import type { Json } from './pods.js';

export function parseManifests(text: string): Json[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Json | null)
    .filter((o): o is Json => o !== null && typeof o === 'object');
}

export function adaptChartFor120(objects: Json[]): { objects: Json[]; notes: string[] } {
  const notes: string[] = [];
  const kept: Json[] = [];
  for (const object of structuredClone(objects)) {
    const id = `${object.kind}/${object.metadata?.name}`;
    if (object.kind === 'ValidatingAdmissionPolicy' || object.kind === 'ValidatingAdmissionPolicyBinding') {
      notes.push(`${id} dropped: ValidatingAdmissionPolicy arrived in 1.26`);
      continue;
    }
    if (object.kind === 'PodDisruptionBudget' && object.apiVersion === 'policy/v1') {
      notes.push(`${id} as policy/v1beta1: policy/v1 arrived in 1.21`);
      object.apiVersion = 'policy/v1beta1';
    }
    if (object.kind === 'MutatingWebhookConfiguration') {
      for (const hook of object.webhooks ?? []) {
        if (hook.matchConditions !== undefined) notes.push(`${id} ${hook.name}: matchConditions dropped (CEL, 1.27+)`);
        delete hook.matchConditions;
      }
    }
    if (object.kind === 'CustomResourceDefinition') {
      const removed = removeKeyDeep(object.spec, 'x-kubernetes-validations');
      if (removed > 0) notes.push(`${id}: ${removed} x-kubernetes-validations rule lists dropped (CEL, 1.25+)`);
    }
    const podSpec: Json | undefined = object.spec?.template?.spec;
    if (podSpec !== undefined) adaptPodSpec(id, podSpec, notes);
    kept.push(object);
  }
  return { objects: kept, notes };
}

function adaptPodSpec(id: string, podSpec: Json, notes: string[]): void {
  for (const constraint of podSpec.topologySpreadConstraints ?? []) {
    for (const field of ['matchLabelKeys', 'minDomains', 'nodeAffinityPolicy', 'nodeTaintsPolicy']) {
      if (constraint[field] === undefined) continue;
      notes.push(`${id}: topologySpreadConstraints ${field} dropped (1.25+)`);
      delete constraint[field];
    }
  }
  for (const container of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
    for (const hook of ['preStop', 'postStart']) {
      const handler = container.lifecycle?.[hook];
      if (handler?.sleep === undefined) continue;
      // The sleep action (1.29+) has no 1.20 form short of an exec, and the image has no shell.
      notes.push(`${id}: container ${container.name} lifecycle.${hook}.sleep dropped (1.29+)`);
      delete handler.sleep;
      if (Object.keys(handler).length === 0) delete container.lifecycle[hook];
    }
    if (container.lifecycle !== undefined && Object.keys(container.lifecycle).length === 0) delete container.lifecycle;
  }
}

function removeKeyDeep(value: unknown, key: string): number {
  if (value === null || typeof value !== 'object') return 0;
  let removed = 0;
  if (!Array.isArray(value) && key in value) {
    delete (value as Json)[key];
    removed += 1;
  }
  for (const child of Object.values(value)) removed += removeKeyDeep(child, key);
  return removed;
}
