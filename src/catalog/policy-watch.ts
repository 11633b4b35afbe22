// The PatternPolicy objects of every namespace, followed by an informer (restarted after errors,
// informer.ts) and read once when they arrive (policy.ts). Only the policy named `default`
// counts. What a review gets for a namespace (PolicyView): its policy; none; or 'unreadable'
// when the namespace has one podpattern cannot use now: the informer has not synced (or RBAC
// stops it) and the namespace carries the podpattern.dev/policy label the controller sets, or
// the stored object cannot be read (written while the validating webhook was down). The engine
// refuses pods there: a policy fails closed.
import type { Logger } from 'pino';
import { POLICY_LABEL } from '../model/keys.js';
import { POLICY_NAME, type Policy, type PolicyView } from '../model/policy.js';
import { SyncedInformer, type InformerLike } from './informer.js';
import { readPolicy } from './policy.js';

export interface PolicyObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; generation?: number };
  spec?: unknown;
}

export interface PolicyWatchDeps {
  informer: InformerLike<PolicyObject>;
  logger: Logger;
  maxBackoffMs?: number;
  /** Told of each namespace's `default` policy as it is added or changed (the object) or deleted (undefined). */
  onChange?: (namespace: string, object: PolicyObject | undefined) => void;
}

export class PolicyWatch {
  readonly sync: SyncedInformer<PolicyObject>;
  private readonly byNamespace = new Map<string, Policy | 'unreadable'>();
  private readonly objects = new Map<string, PolicyObject>();

  constructor(private readonly deps: PolicyWatchDeps) {
    this.sync = new SyncedInformer(deps.informer, { name: 'policies', logger: deps.logger, maxBackoffMs: deps.maxBackoffMs });
    deps.informer.on('add', (object) => this.upsert(object));
    deps.informer.on('update', (object) => this.upsert(object));
    deps.informer.on('delete', (object) => this.remove(object));
  }

  /** The policy a pod of `namespace` is held to; `labels` are the namespace's, when known. */
  view(namespace: string, labels: Readonly<Record<string, string>> | undefined): PolicyView {
    const known = this.byNamespace.get(namespace);
    if (this.sync.synced || known !== undefined) return known;
    return labels?.[POLICY_LABEL] === undefined ? undefined : 'unreadable';
  }

  private upsert(object: PolicyObject): void {
    const { name, namespace } = object.metadata ?? {};
    if (name !== POLICY_NAME || typeof namespace !== 'string') return;
    const read = readPolicy(object);
    if (!read.ok)
      this.deps.logger.warn(
        { namespace, problems: read.problems.slice(0, 5) },
        'PatternPolicy cannot be read; pods of its namespace are refused until it is fixed',
      );
    this.byNamespace.set(namespace, read.ok ? read.policy : 'unreadable');
    this.objects.set(namespace, object);
    this.deps.onChange?.(namespace, object);
  }

  /** Tells onChange of every policy again (the catalog changed, so their status may have). */
  replay(): void {
    for (const [namespace, object] of this.objects) this.deps.onChange?.(namespace, object);
  }

  private remove(object: PolicyObject): void {
    const { name, namespace } = object.metadata ?? {};
    if (name !== POLICY_NAME || typeof namespace !== 'string') return;
    this.byNamespace.delete(namespace);
    this.objects.delete(namespace);
    this.deps.onChange?.(namespace, undefined);
  }
}
