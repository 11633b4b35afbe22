// Reviews that arrive in one turn of the event loop are decided together, one after another,
// once the turn's input has been read, and then answered together.
//
// Node reads every socket that has data in one poll phase and runs each request's handler as it
// goes, so a review's decision ran between TLS decryption, HTTP parsing and the routing of the
// next request, each evicting the others' code and data from the CPU's caches: the engine took
// about 70 µs a review in the server against 26 in a loop over the same pods. Deciding a turn's
// reviews back to back, in the check phase after the poll phase (setImmediate), keeps the
// engine's code and the catalog in the caches. This is cohort scheduling (J. Larus and M. Parkes,
// "Using Cohort Scheduling to Enhance Server Performance", USENIX Annual Technical Conference
// 2002): similar work run consecutively for the locality it gains. bench/RESULTS.md, "Deciding a
// turn's reviews together", has the figures.
//
// A cohort's reviews stay parsed until it runs, so it is bounded: at COHORT_REVIEWS reviews, or
// COHORT_BODY_LENGTH characters of their bodies, it runs at once and the turn's later reviews
// start another. Unbounded, 64 reviews in flight made cohorts of 64 that outgrew the young
// generation (node-flags.ts), and collecting what survived cost more than the caches saved; the
// length bound keeps the bodies a cohort holds to what one large review holds without cohorts.
// Work given while a cohort runs waits for the next turn, so timers, health checks and other
// sockets are served in between, and a lone review waits only for the rest of its own turn.

/** Reviews in one cohort at most: sixteen typical reviews allocate about 1.5 MB, well inside a 4 MiB semi-space. */
export const COHORT_REVIEWS = 16;
/** Characters of review bodies in one cohort at most: a body as long runs alone, as it would without cohorts. */
export const COHORT_BODY_LENGTH = 256 * 1024;

/**
 * Runs `work`, for a review whose body is `length` characters long, with the others given in this
 * turn of the event loop, in the order given, after the turn's I/O; the promise settles with its
 * result.
 */
export type Cohort = <T>(length: number, work: () => T) => Promise<T>;

export function cohort(limits: { reviews: number; length: number } = { reviews: COHORT_REVIEWS, length: COHORT_BODY_LENGTH }): Cohort {
  let waiting: (() => void)[] = [];
  let lengthWaiting = 0;
  const runWaiting = (): void => {
    const turn = waiting;
    waiting = [];
    lengthWaiting = 0;
    for (const run of turn) run();
  };
  return <T>(length: number, work: () => T) =>
    new Promise<T>((resolve, reject) => {
      waiting.push(() => {
        try {
          resolve(work());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      lengthWaiting += length;
      if (waiting.length >= limits.reviews || lengthWaiting >= limits.length) runWaiting();
      else if (waiting.length === 1) setImmediate(runWaiting);
    });
}
