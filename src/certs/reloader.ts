// Keeps the HTTPS server's certificate in step with its files. Kubernetes updates a Secret
// volume by writing a new timestamped directory and renaming the `..data` symlink over the old
// one, so we watch the directory (a watch on the file itself would follow the old inode) and
// also re-read on a timer, which catches what a watch can miss (the directory replaced, NFS,
// inotify limits). A new pair is validated before use; a bad one leaves the old one serving.
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { loadCertificatePair, type CertificatePair } from './load.js';

/** What the reloader swaps certificates into: a tls.Server (https.Server is one). */
export interface SecureContextTarget {
  setSecureContext(options: { cert: string; key: string; ca?: string }): void;
}

export interface ReloaderOptions {
  certFile: string;
  keyFile: string;
  /** The CA that signs clients' certificates; reloaded with the pair (a new context replaces the whole old one). */
  clientCaFile?: string;
  logger: Logger;
  /** Period of the safety-net re-read. */
  checkIntervalMs: number;
  /** Events are coalesced for this long: the kubelet makes several changes per update. */
  debounceMs?: number;
  /** Called after each successful load, e.g. to set the expiry metric. */
  onLoaded?: (pair: CertificatePair) => void;
  now?: () => Date;
}

export class CertificateReloader {
  private current: CertificatePair | undefined;
  private readonly targets: SecureContextTarget[] = [];
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private lastError: string | undefined;

  constructor(private readonly options: ReloaderOptions) {}

  /** Loads the first pair; throws (with the reason) when it is not usable, since there is nothing to fall back on. */
  async load(): Promise<CertificatePair> {
    const pair = await this.read();
    this.accept(pair);
    return pair;
  }

  get pair(): CertificatePair | undefined {
    return this.current;
  }

  /** A certificate is loaded and valid at this moment. */
  isReady(): boolean {
    const now = this.now();
    return this.current !== undefined && now >= this.current.notBefore && now <= this.current.notAfter;
  }

  /** Swaps every future certificate into `target` (existing connections keep theirs). */
  attach(target: SecureContextTarget): void {
    this.targets.push(target);
  }

  /** Starts the directory watch and the periodic check. */
  start(): void {
    const { logger } = this.options;
    const files = [
      this.options.certFile,
      this.options.keyFile,
      ...(this.options.clientCaFile === undefined ? [] : [this.options.clientCaFile]),
    ];
    for (const dir of new Set(files.map((file) => dirname(file)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.schedule());
        watcher.on('error', (error) => {
          logger.warn({ dir, err: error.message }, 'certificate directory watch stopped; the periodic check continues');
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (error) {
        logger.warn({ dir, err: (error as Error).message }, 'cannot watch the certificate directory; relying on the periodic check');
      }
    }
    this.timer = setInterval(() => void this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }

  /** Re-reads the files now. Checks never overlap; one asked for during another runs after it. */
  check(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.reload().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.check();
      }
    });
    return this.running;
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.options.debounceMs ?? 100);
    this.debounce.unref();
  }

  private async reload(): Promise<void> {
    const { logger } = this.options;
    let pair: CertificatePair;
    try {
      pair = await this.read();
    } catch (error) {
      const reason = (error as Error).message;
      // Mid-update reads can see a half-written pair; only a reason that persists is worth repeating.
      if (reason !== this.lastError) {
        logger.error({ reason, serving: this.current?.fingerprint }, 'new TLS certificate rejected; still serving the previous one');
      }
      this.lastError = reason;
      return;
    }
    this.lastError = undefined;
    if (
      pair.fingerprint === this.current?.fingerprint &&
      pair.keyPem === this.current.keyPem &&
      pair.clientCaPem === this.current.clientCaPem
    )
      return;
    // The new context replaces the old one whole: the client CA goes in again, or client
    // certificates would stop verifying at the first serving-certificate rotation.
    for (const target of this.targets)
      target.setSecureContext({
        cert: pair.certPem,
        key: pair.keyPem,
        ...(pair.clientCaPem === undefined ? {} : { ca: pair.clientCaPem }),
      });
    logger.info(
      { subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString(), previous: this.current?.fingerprint },
      'TLS certificate reloaded',
    );
    this.accept(pair);
  }

  private read(): Promise<CertificatePair> {
    return loadCertificatePair(this.options.certFile, this.options.keyFile, this.now(), this.options.clientCaFile);
  }

  private accept(pair: CertificatePair): void {
    this.current = pair;
    this.options.onLoaded?.(pair);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }
}
