// CPU time of a piece of work, as the bounds benchmark reports it and as the tests' "does not
// hang" ceilings check it: this process's user + system time (process.cpuUsage), not wall time,
// since on a shared machine wall time also counts however long other processes held the cores.

/**
 * The result of `work` and the least CPU time it took (ms) in `runs` runs after one warm-up run:
 * the least, so that one unlucky run (a garbage collection, a cold cache) does not count.
 * `work` gets the run's number, for inputs that must differ between runs (a review's uid).
 */
export async function bestCpuMs<T>(work: (run: number) => T | Promise<T>, runs = 3): Promise<{ result: T; ms: number }> {
  let result = await work(0);
  let ms = Infinity;
  for (let run = 1; run <= runs; run += 1) {
    const started = process.cpuUsage();
    result = await work(run);
    const used = process.cpuUsage(started);
    ms = Math.min(ms, (used.user + used.system) / 1000);
  }
  return { result, ms };
}
