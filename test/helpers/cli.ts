// Runs a CLI command's `run(argv, io)` in-process with its output captured: what a user would
// see on stdout and stderr, and the exit code.
import type { Io } from '../../src/cli/common.js';

export async function runCaptured(
  run: (argv: string[], io: Io) => Promise<number>,
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { stdout: (s) => out.push(s), stderr: (s) => err.push(s), readStdin: () => '' });
  return { code, out: out.join(''), err: err.join('') };
}
