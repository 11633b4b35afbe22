// The server's copy of the template revisions (served-revisions.ts), followed by an informer on
// the ControllerRevisions of podpattern's namespace that podpattern manages
// (app.kubernetes.io/managed-by=podpattern). Every replica keeps one, to serve pods outside a
// template's canary its promoted revision. Readiness waits for its first list, as for the
// templates: before it, a template in canary could not be served to anyone outside its canary.
import type { V1ControllerRevision } from '#kube';
import type { Logger } from 'pino';
import { SyncedInformer, errorText, type InformerLike } from '../catalog/informer.js';
import { ServedRevisions } from './served-revisions.js';

export interface RevisionWatchDeps {
  informer: InformerLike<V1ControllerRevision>;
  logger: Logger;
  maxRevisions?: number;
  maxBackoffMs?: number;
}

export class RevisionWatch {
  readonly sync: SyncedInformer<V1ControllerRevision>;
  readonly revisions: ServedRevisions;
  private reportedLeftOut = 0;

  constructor(private readonly deps: RevisionWatchDeps) {
    const revisions = (this.revisions = new ServedRevisions({ maxRevisions: deps.maxRevisions }));
    this.sync = new SyncedInformer(deps.informer, {
      name: 'revisions',
      logger: deps.logger,
      maxBackoffMs: deps.maxBackoffMs,
      onListed: () => {
        revisions.listed = true;
        this.reportLeftOut();
      },
    });
    // Handlers run inside client-node's informer: nothing may escape into it.
    const guard =
      (what: string, apply: (object: V1ControllerRevision) => void) =>
      (object: V1ControllerRevision): void => {
        try {
          apply(object);
        } catch (error) {
          deps.logger.error({ revision: object.metadata?.name, err: errorText(error) }, `ControllerRevision could not be ${what}`);
        }
      };
    const put = guard('applied', (object) => {
      revisions.put(object);
      this.reportLeftOut();
    });
    deps.informer.on('add', put);
    deps.informer.on('update', put);
    deps.informer.on(
      'delete',
      guard('removed', (object) => revisions.remove(object)),
    );
  }

  /** Once per growth of what the full index leaves out, a warning: the templates concerned may not be served outside their canary. */
  private reportLeftOut(): void {
    const { revisions, leftOut } = this.revisions.counts();
    if (leftOut <= this.reportedLeftOut) {
      this.reportedLeftOut = leftOut;
      return;
    }
    this.reportedLeftOut = leftOut;
    this.deps.logger.warn(
      { informer: 'revisions', revisions, leftOut },
      'more template revisions than podpattern keeps in memory: those left out are not served; delete the ControllerRevisions podpattern did not write in its namespace',
    );
  }
}
