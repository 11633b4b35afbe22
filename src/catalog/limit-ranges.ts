// The LimitRanges of every namespace, from an informer's cache, for the engine to check injected
// pods against before it answers (engine/limit-range.ts). Not part of readiness: a cluster whose
// RBAC does not let podpattern read them still gets injections, with a warning on each pod that
// says the check was skipped.
import type { V1LimitRange } from '#kube';
import type { Logger } from 'pino';
import { SyncedInformer, type InformerLike } from './informer.js';

const NONE: readonly V1LimitRange[] = Object.freeze([]);

export interface LimitRangesDeps {
  informer: InformerLike<V1LimitRange>;
  logger: Logger;
  maxBackoffMs?: number;
}

export class LimitRanges {
  readonly sync: SyncedInformer<V1LimitRange>;
  /** namespace -> name -> object, kept from the informer's events (its cache is keyed by name only). */
  private readonly byNamespace = new Map<string, Map<string, V1LimitRange>>();

  constructor(deps: LimitRangesDeps) {
    this.sync = new SyncedInformer(deps.informer, { name: 'limitranges', logger: deps.logger, maxBackoffMs: deps.maxBackoffMs });
    const put = (object: V1LimitRange): void => {
      const { namespace, name } = object.metadata ?? {};
      if (namespace === undefined || name === undefined) return;
      let named = this.byNamespace.get(namespace);
      if (named === undefined) this.byNamespace.set(namespace, (named = new Map<string, V1LimitRange>()));
      named.set(name, object);
    };
    deps.informer.on('add', put);
    deps.informer.on('update', put);
    deps.informer.on('delete', (object) => {
      const { namespace, name } = object.metadata ?? {};
      if (namespace === undefined || name === undefined) return;
      const named = this.byNamespace.get(namespace);
      named?.delete(name);
      if (named?.size === 0) this.byNamespace.delete(namespace);
    });
  }

  /** The namespace's LimitRanges; 'unreadable' until the informer has listed, and while it is down. */
  of(namespace: string): readonly V1LimitRange[] | 'unreadable' {
    if (!this.sync.synced) return 'unreadable';
    const named = this.byNamespace.get(namespace);
    return named === undefined ? NONE : [...named.values()];
  }
}
