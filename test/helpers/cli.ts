// Runs a CLI command's `run(argv, io)` in-process with its output captured: what a user would
// see on stdout and stderr, and the exit code; and the files its -f reads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** `manifest` as JSON in a file `name` of a new temporary folder, for a command's -f. */
export function manifestFile(manifest: unknown, name = 'pod.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'podpattern-cli-')), name);
  writeFileSync(file, JSON.stringify(manifest));
  return file;
}
