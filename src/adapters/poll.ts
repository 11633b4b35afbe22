// What the adapters share: a poll loop that stops on SIGTERM, and JSON lines on stdout. Records
// go to stdout, one JSON object per line, for the cluster's log pipeline; the adapter's own
// messages go to stderr, so the two never mix in one stream.
import { setTimeout as sleep } from 'node:timers/promises';

export interface AdapterIo {
  /** One structured record. */
  record(object: Record<string, unknown>): void;
  /** The adapter's own diagnostics. */
  diagnostic(message: string, fields?: Record<string, unknown>): void;
}

export const processAdapterIo: AdapterIo = {
  record: (object) => process.stdout.write(`${JSON.stringify(object)}\n`),
  diagnostic: (message, fields = {}) =>
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: message, ...fields })}\n`),
};

/**
 * Runs `once` now and then every `intervalMs` after the previous run finished, until `signal`
 * aborts. A failed run is reported and the loop goes on: the app it watches may restart.
 */
export async function pollUntilAborted(
  once: () => void | Promise<void>,
  intervalMs: number,
  signal: AbortSignal,
  io: AdapterIo,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await once();
    } catch (error) {
      // A poll cut short by the stop is not a failure worth reporting.
      if (!signal.aborted) io.diagnostic('poll failed; retrying next interval', { error: (error as Error).message });
    }
    if (signal.aborted) break; // an abort during the poll: its event has fired already
    // timers/promises removes its abort listener and clears its timer whichever comes first, so
    // a loop that runs for weeks holds one listener and one timer, never one per poll.
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
  }
}
