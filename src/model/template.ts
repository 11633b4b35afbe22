// The shape of a PatternTemplate once parsed and validated (its schema, src/catalog/crd-schema.ts,
// is the format's reference). The engine reads only these types; the catalog sources (built-in,
// --catalog-dir, cluster) produce them.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '#kube';
import type { RE2JS } from 're2js';
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
  /** Pull secrets the template's images need, added to the pod once by name. Absent when none. */
  imagePullSecrets?: { name: string }[];
  /** The operating systems the template's containers run on (node label kubernetes.io/os); absent means linux. */
  os?: string[];
  /** Bounds of the per-pod cpu and memory requests (`<template>.podpattern.dev/cpu`, `/memory`). Absent when none. */
  sizing?: { cpu?: SizingBounds; memory?: SizingBounds };
  /** Its emptyDir volumes hold what must not be lost: not offered to the cluster autoscaler as safe to evict. */
  keepLocalVolumes?: boolean;
  /**
   * The template's containers are Ready before the app starts (native sidecars gated by their
   * startup probes, where the server has them). Unset: by pattern (engine/lifecycle.ts).
   */
  startBeforeApp?: boolean;
  /** Who may use the template: namespaces by label, and optionally ServiceAccounts. Absent: every opted-in namespace. */
  availability?: Availability;
}

/** A Kubernetes label selector (metav1.LabelSelector): every term must hold. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/**
 * Where a template may be injected. Both parts must hold: the pod's namespace matches
 * `namespaceSelector` (absent: any namespace), and its ServiceAccount is one of
 * `serviceAccounts` (absent: any), each a name (in any selected namespace) or `namespace/name`.
 */
export interface Availability {
  namespaceSelector?: LabelSelector;
  serviceAccounts?: string[];
}

/** The values Kubernetes allows in a pod's spec.os.name, and so the ones a template may declare. */
export const KNOWN_OS = ['linux', 'windows'];

/** The operating systems a template runs on when it names none. */
export const DEFAULT_OS = ['linux'];

/** The smallest and largest request a pod may set, as Kubernetes quantities. */
export interface SizingBounds {
  min: string;
  max: string;
}

/**
 * Whether a template's containers must be Ready before the app starts: what the template says,
 * else by pattern. Sidecars and ambassadors serve the app, which may call them as it starts;
 * adapters read what the app produces, so they start beside it.
 */
export function startsBeforeApp(spec: Pick<TemplateSpec, 'startBeforeApp'>, pattern: Pattern): boolean {
  return spec.startBeforeApp ?? pattern !== 'adapter';
}

/**
 * How a changed spec reaches running workloads (spec.rollout, whose schema is in
 * catalog/crd-schema.ts). Kept beside the spec, outside the content hash.
 */
export interface TemplateRollout {
  /** Changed specs go first to pods in these namespaces; others get the promoted revision (impact/staged.ts). */
  canary?: { namespaceSelector: LabelSelector; soakSeconds?: number };
  restart?: 'manual' | 'auto';
  maxConcurrent?: number;
  healthTimeoutSeconds?: number;
  maxInjectedRestarts?: number;
}

/** Where a template came from; shown in `templates`, logs and denial messages. */
export type TemplateSource = 'builtin' | `file:${string}` | 'cluster';

export interface Template {
  name: string;
  spec: TemplateSpec;
  /** sha256 of the canonical JSON of `spec`, first 16 hex digits: recorded in podpattern.dev/status. */
  hash: string;
  source: TemplateSource;
  /** spec.rollout as written; absent when the template has none. Not part of `hash`. */
  rollout?: TemplateRollout;
  /** What the template means, worked out once when it was accepted (src/template/compile.ts). */
  compiled: CompiledTemplate;
}

/**
 * One value of a template, compiled for rendering. Strings are split at their placeholders
 * once; a ref is a parameter's name, or `pod.name` / `pod.namespace`. `expanded` strings go
 * where Kubernetes expands $(VAR) (command, args, env values), so the values put in them have
 * their $ doubled. A `typed` string is exactly one placeholder in a numeric or boolean field.
 */
export type CompiledValue =
  | { readonly kind: 'fixed'; readonly value: string | number | boolean | null }
  | { readonly kind: 'text'; readonly texts: readonly string[]; readonly refs: readonly string[]; readonly expanded: boolean }
  | { readonly kind: 'typed'; readonly ref: string; readonly expanded: boolean }
  | { readonly kind: 'list'; readonly items: readonly CompiledValue[] }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly values: readonly CompiledValue[] };

/** A listener on loopback only: a fixed port, or the parameter that sets it. */
export type CompiledListener = { readonly where: string } & (
  { readonly port: number; readonly parameter?: undefined } | { readonly port?: undefined; readonly parameter: string }
);

export interface CompiledTemplate {
  /** containers, initContainers, volumes, files, app and podAnnotations, as one object value. */
  readonly body: CompiledValue;
  /**
   * `body` as a function that builds it for one pod: every call returns new objects throughout,
   * with each placeholder's ref looked up (`lookup` gives a parameter's value, or the pod's name
   * or namespace).
   */
  readonly fill: (lookup: (ref: string) => ParameterValue) => unknown;
  /** The template's files: their names, their annotation keys (same order) and the downwardAPI volume that mounts them. */
  readonly files: {
    readonly names: readonly string[];
    readonly keys: readonly string[];
    readonly volume: string;
    readonly items: readonly { readonly path: string; readonly fieldPath: string }[];
  };
  /** Loopback-only listeners its files and command lines declare. */
  readonly listeners: readonly CompiledListener[];
  /** By container name, the parameter behind each entry of its `ports` (undefined for a fixed port). */
  readonly portParameters: Readonly<Record<string, readonly (string | undefined)[]>>;
  /** By parameter name, its pattern on the linear-time engine. */
  readonly patterns: Readonly<Record<string, RE2JS>>;
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
