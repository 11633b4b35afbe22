// Namespace defaults: the podpattern annotations of each namespace, read from an informer's
// cache, for pods created there that ask for nothing themselves.
import type { V1Namespace } from '#kube';
import type { Logger } from 'pino';
import { isOwnKey } from '../model/keys.js';
import { SyncedInformer, type InformerLike } from './informer.js';

const NO_ANNOTATIONS: Record<string, string> = Object.freeze({});

export interface NamespaceDefaultsDeps {
  informer: InformerLike<V1Namespace>;
  logger: Logger;
  maxBackoffMs?: number;
}

export class NamespaceDefaults {
  readonly sync: SyncedInformer<V1Namespace>;
  private readonly annotationsByObject = new WeakMap<V1Namespace, Record<string, string>>();
  /** Each namespace's labels, kept from the informer's events (its cache lists nothing). */
  private readonly labelsByName = new Map<string, Readonly<Record<string, string>>>();

  constructor(private readonly deps: NamespaceDefaultsDeps) {
    this.sync = new SyncedInformer(deps.informer, { name: 'namespaces', logger: deps.logger, maxBackoffMs: deps.maxBackoffMs });
    const keep = (object: V1Namespace): void => {
      const name = object.metadata?.name;
      if (name !== undefined) this.labelsByName.set(name, object.metadata?.labels ?? {});
    };
    deps.informer.on('add', keep);
    deps.informer.on('update', keep);
    deps.informer.on('delete', (object) => this.labelsByName.delete(object.metadata?.name ?? ''));
  }

  /** The labels of every namespace, once the informer has synced; undefined before. */
  allLabels(): Iterable<Readonly<Record<string, string>>> | undefined {
    return this.sync.synced ? this.labelsByName.values() : undefined;
  }

  /** The labels of a namespace from the informer's cache; undefined when it is not there (not yet synced, or no such namespace). */
  labels(namespace: string): Readonly<Record<string, string>> | undefined {
    const object = this.deps.informer.get(namespace);
    return object === undefined ? undefined : (object.metadata?.labels ?? {});
  }

  /**
   * The podpattern annotations of a namespace, from the informer's cache. The same object until
   * the namespace changes (the informer then holds a new one), so callers can tell a change by identity.
   */
  annotations(namespace: string): Record<string, string> {
    const object = this.deps.informer.get(namespace);
    if (object === undefined) return NO_ANNOTATIONS;
    let annotations = this.annotationsByObject.get(object);
    if (annotations === undefined) {
      const all = object.metadata?.annotations ?? {};
      annotations = Object.freeze(Object.fromEntries(Object.entries(all).filter(([key]) => isOwnKey(key))));
      this.annotationsByObject.set(object, annotations);
    }
    return annotations;
  }
}
