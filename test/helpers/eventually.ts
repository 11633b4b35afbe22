// Waiting on a condition in a test: ask again until it holds, and fail loudly at a deadline, so a
// test waits on what it needs and not on a fixed sleep.

/** Polls `attempt` every `everyMs` until it returns a value; fails with `what` and the last error after `timeoutMs`. */
export async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `; last error: ${last instanceof Error ? last.message : JSON.stringify(last)}`}`,
      );
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
