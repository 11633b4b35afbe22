// Keeps the index of injected pods (pod-index.ts) in step with the cluster: list the pods
// labelled podpattern.dev/injected=true, page by page, swap the index in whole, then watch from
// the list's resourceVersion. A watch that ends is resumed from the last version seen; one that
// fell too far behind (410 Gone: the API server no longer has that version) is listed afresh,
// and so is any other failure, after a growing wait. Metadata only (pod-kube.ts asks for
// PartialObjectMetadata). Not client-node's informer: it caches every whole object it sees, and
// what the index keeps of a pod is a quarter of its metadata (bench/impact.ts).
import type { V1ObjectMeta } from '#kube';
import type { Logger } from 'pino';
import { INJECTED_LABEL } from '../model/keys.js';
import type { InjectedPodIndex } from './pod-index.js';

export const INJECTED_SELECTOR = `${INJECTED_LABEL}=true`;

export interface MetadataPage {
  items: Array<{ metadata?: V1ObjectMeta }>;
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface WatchEvent {
  type: string;
  object: { metadata?: V1ObjectMeta; code?: number; message?: string } | undefined;
}

/** What the watch needs of the API: pages of a list, and a watch that reports each event and its end. */
export interface MetadataClient {
  list(page: { labelSelector: string; limit: number; continue?: string }): Promise<MetadataPage>;
  watch(
    from: { labelSelector: string; resourceVersion: string },
    onEvent: (event: WatchEvent) => void,
    onDone: (error: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface PodWatchOptions {
  client: MetadataClient;
  index: InjectedPodIndex;
  logger: Logger;
  /** Items per list page (default 500, as kubectl and client-go's pagers ask). */
  pageSize?: number;
  maxBackoffMs?: number;
}

export class PodWatch {
  private resourceVersion = '';
  private stopped = false;
  private failures = 0;
  private current: { abort(): void } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PodWatchOptions) {}

  /** Lists and watches in the background; never rejects (failures are retried and logged). */
  start(): void {
    this.stopped = false;
    void this.listAndWatch();
  }

  stop(): void {
    this.stopped = true;
    this.options.index.synced = false;
    clearTimeout(this.timer);
    this.current?.abort();
  }

  private async listAndWatch(): Promise<void> {
    const { index, logger } = this.options;
    try {
      const next = index.rebuild();
      await this.listAll((items) => {
        for (const item of items) next.add(item.metadata);
      });
      if (this.stopped) return;
      next.commit();
      const counts = index.counts();
      logger.info({ informer: 'injected-pods', ...counts }, 'injected pods listed');
      await this.watch();
    } catch (error) {
      this.retry(error);
    }
  }

  /** Every page of the list, each handed on as it comes; the list's resourceVersion is the last page's. */
  private async listAll(take: (items: MetadataPage['items']) => void): Promise<void> {
    let next: string | undefined;
    do {
      const page = await this.options.client.list({
        labelSelector: INJECTED_SELECTOR,
        limit: this.options.pageSize ?? 500,
        ...(next === undefined ? {} : { continue: next }),
      });
      take(page.items);
      next = page.metadata?.continue || undefined;
      this.resourceVersion = page.metadata?.resourceVersion ?? '';
    } while (next !== undefined && !this.stopped);
  }

  private async watch(): Promise<void> {
    const { index } = this.options;
    let gone = false;
    this.current = await this.options.client.watch(
      { labelSelector: INJECTED_SELECTOR, resourceVersion: this.resourceVersion },
      ({ type, object }) => {
        const version = object?.metadata?.resourceVersion;
        if (type === 'ERROR') {
          gone = object?.code === 410;
          return;
        }
        if (version !== undefined) this.resourceVersion = version;
        if (type === 'ADDED' || type === 'MODIFIED') index.upsert(object?.metadata);
        else if (type === 'DELETED') index.remove(object?.metadata);
      },
      (error) => {
        this.current = undefined;
        if (this.stopped) return;
        if (error !== null && error !== undefined) return this.retry(error);
        if (gone) return this.relist('the watch fell behind (410 Gone)');
        // The API server ends every watch after a while: resume where it stopped.
        void this.watch().catch((e: unknown) => this.retry(e));
      },
    );
    if (this.stopped) return this.current?.abort();
    this.failures = 0;
    index.synced = true;
  }

  private relist(why: string): void {
    this.options.logger.info({ informer: 'injected-pods', why }, 'listing injected pods again');
    this.options.index.synced = false;
    void this.listAndWatch();
  }

  private retry(error: unknown): void {
    this.options.index.synced = false;
    if (this.stopped) return;
    this.failures += 1;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(this.failures, 10));
    this.options.logger.warn(
      { informer: 'injected-pods', err: error instanceof Error ? error.message : String(error), retryInMs: delay },
      'watch of injected pods failed; listing again',
    );
    this.timer = setTimeout(() => void this.listAndWatch(), delay);
  }
}
