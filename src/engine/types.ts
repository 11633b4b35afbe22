// What the engine takes and gives. The engine is pure: no I/O, no clock, no logger.
import type { V1LimitRange, V1ObjectMeta, V1PodSpec } from '#kube';
import type { Operation } from 'fast-json-patch';
import type { ServerVersion } from '../model/server-version.js';
import type { PolicyView } from '../model/policy.js';

/** A Pod, or a workload's pod template: the engine only reads metadata and spec. */
export interface PodLike {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: V1PodSpec;
  [key: string]: unknown;
}

export type NativeSidecarMode = 'auto' | 'always' | 'never';

export interface InjectOptions {
  nativeSidecars: NativeSidecarMode;
  /** The API server's version, for nativeSidecars=auto; unknown means classic sidecars. */
  serverVersion?: ServerVersion;
  /** The namespace the pod is created in (admission requests carry it even when the pod does not). */
  namespace?: string;
  /** Annotations of the pod's namespace: podpattern.dev/<pattern> defaults and their parameters. */
  namespaceAnnotations?: Record<string, string>;
  /** $(pod.name) for a pod template that has neither name nor generateName (the CLI's workloads). */
  podNameHint?: string;
  /**
   * The pod is a Job's or CronJob's template, so it runs to completion whatever its
   * restartPolicy says (the CLI knows the kind; the webhook sees the pod's restartPolicy).
   */
  runsToCompletion?: boolean;
  /**
   * Volumes the pod's controller adds when it creates the pod (a StatefulSet's
   * volumeClaimTemplates): mounting them is not a missing volume.
   */
  controllerVolumes?: string[];
  /**
   * The LimitRanges of the pod's namespace, checked against the injected pod; 'unreadable' when
   * the server could not read them (a warning); absent offline, where nothing is checked.
   */
  limitRanges?: readonly V1LimitRange[] | 'unreadable';
  /**
   * Labels of the pod's namespace, for templates' availability; absent where they are not known
   * (then only kubernetes.io/metadata.name, the namespace's name, is matched).
   */
  namespaceLabels?: Readonly<Record<string, string>>;
  /** The PatternPolicy of the pod's namespace (model/policy.ts); absent: none is enforced. */
  policy?: PolicyView;
}

/**
 * Why nothing was injected. A closed set: each becomes a log field and a metric label.
 */
export type SkipReason =
  | 'opted-out' // podpattern.dev/inject: "false"
  | 'not-requested' // no podpattern annotation on the pod or its namespace
  | 'already-injected'; // podpattern.dev/status matches what would be injected

/** Why a pod was denied: also a closed set. */
export type ProblemCode =
  | 'unknown-template'
  | 'template-invalid'
  | 'wrong-pattern'
  | 'unknown-parameter'
  | 'missing-parameter'
  | 'invalid-parameter'
  | 'invalid-annotation'
  | 'clash-container'
  | 'clash-port'
  | 'clash-volume'
  | 'clash-env'
  | 'clash-annotation'
  | 'missing-volume'
  | 'needs-native-sidecars' // a run-to-completion pod, and no native sidecars to keep it finishing
  | 'host-network' // a hostNetwork pod, and a template that would listen on the node's ports
  | 'unsupported-os' // the pod is for an operating system a template does not run on
  | 'limit-range' // a LimitRange of the namespace would refuse the injected pod
  | 'not-available' // a template's availability excludes the pod's namespace or ServiceAccount
  | 'required-by-policy' // the namespace's PatternPolicy requires what the pod refuses, or cannot be read
  | 'forbidden-by-policy' // the namespace's PatternPolicy forbids a template the pod asks for
  | 'invalid-pod';

export interface Problem {
  code: ProblemCode;
  /** The template concerned, when there is one. */
  template?: string;
  /** What is wrong and how to fix it, in one sentence a pod author can act on. */
  message: string;
  /** For a summary of problems not listed one by one ("4980 more keys…"): how many it stands for. */
  count?: number;
}

export interface InjectedTemplate {
  name: string;
  pattern: string;
  hash: string;
}

export type InjectionResult =
  | { outcome: 'skipped'; reason: SkipReason; warnings: string[] }
  | { outcome: 'denied'; reason: ProblemCode; problems: Problem[]; message: string; warnings: string[] }
  | {
      outcome: 'injected';
      reason: 'injected';
      templates: InjectedTemplate[];
      /** The parameter values in force, by template. */
      parameters: Record<string, Record<string, string | number | boolean>>;
      /** The pod as it should be stored. */
      pod: PodLike;
      /** RFC 6902 operations that turn the input pod into `pod`. */
      patch: Operation[];
      /** JSON.stringify(patch): made once, to bound the patch's size, and sent as it is. */
      patchJson?: string;
      warnings: string[];
    };
