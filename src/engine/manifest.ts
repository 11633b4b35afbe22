// A workload manifest through the engine: its pod template found (pod-template.ts), injected
// as the API server would store its annotations, and put back in place. Shared by the offline
// CLI (`inject`, `explain`, `check -f`, `templates diff --manifests`) and the webhook's review of
// workloads at apply time.
import type { V1ObjectMeta } from '#kube';
import type { Catalog } from '../model/template.js';
import { PATTERN_KEYS, INJECT_KEY, parseTemplateKey } from '../model/keys.js';
import { inject } from './index.js';
import type { InjectOptions, InjectionResult, PodLike } from './types.js';
import { findPodTemplate, replacePodTemplate, type PodTemplateSite } from './pod-template.js';

export interface ManifestResult {
  /** `Kind/name` of the manifest, for messages. */
  label: string;
  /** The manifest with its pod template mutated, or as it came when nothing applies. */
  object: unknown;
  /** Where the pod template is, when there is one. */
  site?: PodTemplateSite;
  /** The engine options the pod template was injected with (namespace, its annotations…). */
  options?: InjectOptions;
  result?: InjectionResult;
  /** A shape that cannot be injected, named: fails the run like a denial. */
  refusal?: string;
  warnings: string[];
}

export function labelOf(object: unknown): string {
  const o = object as { kind?: unknown; metadata?: V1ObjectMeta } | null;
  return `${typeof o?.kind === 'string' ? o.kind : '(no kind)'}/${o?.metadata?.name ?? o?.metadata?.generateName ?? '(no name)'}`;
}

export function injectManifest(object: unknown, catalog: Catalog, options: InjectOptions): ManifestResult {
  const manifest = structuredClone(object) as { kind?: string; metadata?: V1ObjectMeta } & Record<string, unknown>;
  const label = labelOf(manifest);
  const found = findPodTemplate(manifest);
  if ('none' in found) return { label, object: manifest, warnings: [] };
  if ('refused' in found) return { label, object: manifest, refusal: found.refused, warnings: [] };
  const { found: site, template } = found;
  const pod = asStoredAnnotations(template);
  const warnings = misplacedAnnotations(manifest, site.path).map((key) => `${label}: ${misplacedMessage(key, site.path)}`);
  const namespace = manifest.metadata?.namespace ?? options.namespace;
  const used: InjectOptions = {
    ...options,
    ...(namespace ? { namespace } : {}),
    podNameHint: `${manifest.metadata?.name ?? 'pod'}-`,
    ...(site.runsToCompletion ? { runsToCompletion: true } : {}),
    ...(site.controllerVolumes.length > 0 ? { controllerVolumes: site.controllerVolumes } : {}),
  };
  const result = inject(pod, catalog, used);
  warnings.push(...result.warnings.map((w) => `${label}: ${w}`));
  if (result.outcome === 'injected') replacePodTemplate(manifest, site.path, result.pod);
  return { label, object: manifest, site, options: used, result, warnings };
}

/**
 * An annotation written `key:` with no value is null in YAML; the API server stores it as ""
 * (a JSON null leaves a Go string empty), so the engine sees what the cluster would.
 */
export function asStoredAnnotations(pod: PodLike): PodLike {
  const annotations = pod.metadata?.annotations as Record<string, unknown> | undefined;
  if (annotations === undefined || annotations === null) return pod;
  for (const [key, value] of Object.entries(annotations)) if (value === null) annotations[key] = '';
  return pod;
}

/**
 * Podpattern annotations on a workload's own metadata, where podpattern never looks (it sees
 * only the pods the workload's controller creates from its pod template at `path`): the keys.
 */
export function misplacedAnnotations(manifest: { metadata?: { annotations?: unknown } }, path: readonly string[]): string[] {
  const annotations = manifest.metadata?.annotations;
  if (path.length === 0 || annotations === null || typeof annotations !== 'object') return [];
  const ours = new Set<string>([...Object.values(PATTERN_KEYS), INJECT_KEY]);
  return Object.keys(annotations).filter((key) => ours.has(key) || parseTemplateKey(key) !== undefined);
}

/** Why a misplaced key does nothing, and where it belongs (`path`: the pod template's). */
export function misplacedMessage(key: string, path: readonly string[]): string {
  return `annotation ${key} is on the workload's own metadata, where podpattern does not look; move it to ${[...path, 'metadata', 'annotations'].join('.')}`;
}
