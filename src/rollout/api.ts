// What the rollout controller needs of the API server (rollout-kube.ts with client-node; a fake
// API server in the tests) and what it tells the metrics, apart from the controller itself.
import type { Logger } from 'pino';
import type { Condition } from '../catalog/template-watch.js';
import type { EventSink } from '../events/recorder.js';
import type { RestartableKind } from '../heal/missed.js';
import type { Usage } from '../impact/pod-index.js';
import type { OwnerRef } from '../impact/pod-record.js';
import type { PodState, RolloutStatus, WorkloadState } from './plan.js';

/** A PatternTemplate as listed: what the controller reads of it. */
export interface TemplateObject {
  metadata?: { name?: string; uid?: string; generation?: number; annotations?: Record<string, string> };
  spec?: unknown;
  status?: { conditions?: Condition[]; rollout?: unknown };
}

/** A template's ControllerRevision, with whether it is promoted. */
export interface RevisionInfo {
  name: string;
  hash: string;
  revision: number;
  promoted: boolean;
}

/** What the rollout controller needs of the API (rollout-kube.ts; a fake API server in tests). */
export interface RolloutApi {
  /** The cluster's PatternTemplates. */
  templates(): Promise<TemplateObject[]>;
  /** The template's ControllerRevisions in podpattern's namespace. */
  revisions(template: string): Promise<RevisionInfo[]>;
  /**
   * Labels the revision podpattern.dev/promoted, the label `podpattern rollout promote` writes
   * (both through impact/revisions-kube.ts); resolves false when the revision is gone.
   */
  promote(revision: string): Promise<boolean>;
  /** Every namespace's labels (for the canary selector). */
  namespaceLabels(): Promise<Map<string, Record<string, string>>>;
  /** The controller of a ReplicaSet or Job (its Deployment or CronJob); null when it has none. */
  controllerOf(namespace: string, owner: OwnerRef): Promise<OwnerRef | null>;
  /** The workload with its status; undefined when it is gone. */
  readWorkload(namespace: string, kind: RestartableKind, name: string): Promise<WorkloadState | undefined>;
  /** The restart `kubectl rollout restart` makes, if the workload is still at `resourceVersion`. */
  restart(namespace: string, kind: RestartableKind, name: string, resourceVersion: string, at: number): Promise<void>;
  /** The pods a selector selects in a namespace. */
  pods(namespace: string, selector: string): Promise<PodState[]>;
  /** Sets the pause annotation with its reason. */
  pause(template: string, reason: string): Promise<void>;
  /** Writes status.rollout and the conditions (all of them: the list is replaced). */
  writeStatus(template: string, rollout: RolloutStatus, conditions: Condition[]): Promise<void>;
}

export interface RolloutMetrics {
  /** A restart's end: passed, failed, refused or gone. */
  restarted(result: 'passed' | 'failed' | 'refused' | 'gone'): void;
  /** Whether each template's rollout is paused, for every template seen by the pass (the others are forgotten). */
  paused(states: ReadonlyMap<string, boolean>): void;
}

export interface RolloutOptions {
  api: RolloutApi;
  /** The pods running a template, grouped by workload (the index of injected pods); undefined until it has listed. */
  usages: (template: string) => Usage[] | undefined;
  /**
   * The hash this replica serves for the template to pods of a canary namespace (`canary`
   * true) or of any other namespace (the promoted revision while the template is in canary);
   * undefined when not known. No restart starts while it is not the hash the workload should
   * get: its new pods would get another revision.
   */
  served?: (template: string, canary: boolean) => string | undefined;
  events: EventSink;
  metrics: RolloutMetrics;
  logger: Logger;
  now?: () => number;
}

export interface RolloutPassResult {
  /** "namespace/Kind/name" restarted by this pass. */
  restarted: string[];
  /** Templates this pass paused. */
  paused: string[];
  /** Templates this pass promoted. */
  promoted: string[];
}
