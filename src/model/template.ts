// The shape of a PatternTemplate once parsed and validated (its schema, src/catalog/crd-schema.ts,
// is the format's reference). The engine reads only these types; the catalog sources (built-in,
// --catalog-dir, cluster) produce them.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { DOMAIN } from './domain.js';

/** The PatternTemplate API: kind PatternTemplate in group podpattern.dev, version v1alpha1, cluster-scoped. */
export const TEMPLATE_GROUP = DOMAIN;
export const TEMPLATE_VERSION = 'v1alpha1';
export const TEMPLATE_API_VERSION = `${TEMPLATE_GROUP}/${TEMPLATE_VERSION}`;
export const TEMPLATE_KIND = 'PatternTemplate';
export const TEMPLATE_PLURAL = 'patterntemplates';

export const PATTERNS = ['sidecar', 'ambassador', 'adapter'] as const;
export type Pattern = (typeof PATTERNS)[number];

export const PARAMETER_TYPES = ['string', 'integer', 'number', 'boolean'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];
export type ParameterValue = string | number | boolean;

export interface ParameterSpec {
  type: ParameterType;
  description?: string;
  default?: ParameterValue;
  required?: boolean;
  enum?: ParameterValue[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

export interface AppWiring {
  env?: V1EnvVar[];
  volumeMounts?: V1VolumeMount[];
}

export interface TemplateSpec {
  pattern: Pattern;
  description: string;
  parameters: Record<string, ParameterSpec>;
  containers: V1Container[];
  initContainers: V1Container[];
  volumes: V1Volume[];
  files: Record<string, string>;
  app: AppWiring;
  podAnnotations: Record<string, string>;
  /**
   * The template's containers are Ready before the app starts (native sidecars gated by their
   * startup probes, where the server has them). Unset: by pattern (engine/lifecycle.ts).
   */
  startBeforeApp?: boolean;
}

/**
 * Whether a template's containers must be Ready before the app starts: what the template says,
 * else by pattern. Sidecars and ambassadors serve the app, which may call them as it starts;
 * adapters read what the app produces, so they start beside it.
 */
export function startsBeforeApp(spec: Pick<TemplateSpec, 'startBeforeApp'>, pattern: Pattern): boolean {
  return spec.startBeforeApp ?? pattern !== 'adapter';
}

/** Where a template came from; shown in `templates`, logs and denial messages. */
export type TemplateSource = 'builtin' | `file:${string}` | 'cluster';

export interface Template {
  name: string;
  spec: TemplateSpec;
  /** sha256 of the canonical JSON of `spec`, first 16 hex digits: recorded in podpattern.dev/status. */
  hash: string;
  source: TemplateSource;
}

/** A template that was refused at load, with every problem found (path: message). */
export interface TemplateFailure {
  name: string;
  source: TemplateSource;
  problems: string[];
}

/** An immutable snapshot of the catalog. A new one is built and swapped in whole. */
export interface Catalog {
  get(name: string): Template | undefined;
  list(): Template[];
  /** Templates refused at load, by name: pods asking for them are told why. */
  failure(name: string): TemplateFailure | undefined;
  failures(): TemplateFailure[];
}
