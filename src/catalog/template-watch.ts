// The cluster's PatternTemplates, followed by an informer: each add or update is validated into
// the live catalog, a delete takes the template out, and the template's Ready condition says
// whether the catalog accepted it. The catalog is rebuilt at once after each list, so it holds
// the cluster's templates by the time the informer reports synced.
import type { KubernetesObject } from '#kube';
import type { Logger } from 'pino';
import { SyncedInformer, errorText, type InformerLike } from './informer.js';
import type { LiveCatalog, TemplateVerdict } from './live.js';

export interface TemplateObject extends KubernetesObject {
  spec?: unknown;
  status?: { conditions?: Condition[] };
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Writes one condition to a PatternTemplate's status (a merge patch of the status subresource). */
export type ConditionWriter = (name: string, condition: Condition) => Promise<void>;

export interface TemplateWatchDeps {
  informer: InformerLike<TemplateObject>;
  live: LiveCatalog;
  writeCondition: ConditionWriter;
  logger: Logger;
  /** Counts templates refused at load (the catalog load errors metric). */
  onInvalidTemplate?: (name: string) => void;
  now?: () => Date;
  maxBackoffMs?: number;
}

export class TemplateWatch {
  readonly sync: SyncedInformer<TemplateObject>;

  constructor(private readonly deps: TemplateWatchDeps) {
    const { informer, live } = deps;
    this.sync = new SyncedInformer(informer, {
      name: 'templates',
      logger: deps.logger,
      maxBackoffMs: deps.maxBackoffMs,
      onListed: () => live.flush(),
    });
    // Handlers run inside client-node's informer, while it applies a list or a watch event: one
    // that throws stops the list at that object and the watch with it. So nothing escapes.
    const upsert = (object: TemplateObject): void => {
      try {
        const verdict = live.upsert(object);
        if (verdict !== undefined) void this.recordVerdict(object, verdict);
      } catch (error) {
        deps.logger.error({ template: object.metadata?.name, err: errorText(error) }, 'PatternTemplate could not be applied');
      }
    };
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (object) => {
      if (object.metadata?.name !== undefined) live.remove(object.metadata.name);
    });
  }

  /** Writes Ready=True/False on the object when it differs from what the object shows. */
  private async recordVerdict(object: TemplateObject, verdict: TemplateVerdict): Promise<void> {
    const name = verdict.name;
    if (!verdict.valid) {
      this.deps.onInvalidTemplate?.(name);
      this.deps.logger.warn(
        { template: name, problems: verdict.problems },
        'PatternTemplate is invalid; its last good version stays in force',
      );
    }
    const wanted = {
      type: 'Ready',
      status: verdict.valid ? 'True' : 'False',
      reason: verdict.valid ? 'Valid' : 'InvalidTemplate',
      message: verdict.valid ? 'the template is valid and in force' : verdict.problems.join('; ').slice(0, 4000),
    } as const;
    const current = object.status?.conditions?.find((c) => c.type === 'Ready');
    if (current?.status === wanted.status && current.reason === wanted.reason && current.message === wanted.message) return;
    const condition: Condition = { ...wanted, lastTransitionTime: (this.deps.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z') };
    if (object.metadata?.generation !== undefined) condition.observedGeneration = object.metadata.generation;
    try {
      await this.deps.writeCondition(name, condition);
    } catch (error) {
      this.deps.logger.warn({ template: name, err: errorText(error) }, 'could not write the Ready condition');
    }
  }
}
