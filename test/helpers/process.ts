// Runs `podpattern serve` as a real process, from the TypeScript sources (the same loader tap
// uses), so these tests exercise the current code without a build.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOADER = new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url).href;
export const BIN = `${ROOT}src/bin/podpattern.ts`;

export interface Served {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: () => string;
  exit: Promise<number | null>;
  /** Resolves with the first log line that satisfies `match`. */
  waitFor: (match: (line: Record<string, unknown>) => boolean, ms?: number) => Promise<Record<string, unknown>>;
}

export interface ServeOptions {
  cwd: string;
  env?: Record<string, string>;
  /**
   * Run the built server (dist/) instead of the sources, with these V8 flags on the command
   * line and exactly this NODE_OPTIONS: for measuring memory, since the TypeScript loader
   * holds tens of megabytes of its own.
   */
  built?: { nodeFlags: readonly string[]; nodeOptions: string };
}

export const BUILT_BIN = `${ROOT}dist/src/bin/podpattern.js`;

export function serve(args: string[], options: ServeOptions): Served {
  // tap's process tracker wraps child_process and puts its own loader (and, under coverage,
  // V8's coverage collection) into every child's NODE_OPTIONS, which holds tens of megabytes of
  // heap. `env` sets the NODE_OPTIONS wanted as it execs node, so the built server runs as
  // deployed, under the same pid.
  const [file, command] =
    options.built === undefined
      ? [process.execPath, ['--import', LOADER, BIN]]
      : ['env', [`NODE_OPTIONS=${options.built.nodeOptions}`, process.execPath, ...options.built.nodeFlags, BUILT_BIN]];
  const child = spawn(file, [...command, 'serve', ...args], {
    cwd: options.cwd,
    // Hermetic: never follow whatever cluster this machine's kubeconfig points at.
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', PODPATTERN_LIVE_CATALOG: 'off', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      line = { text };
    }
    lines.push(line);
    for (const waiter of [...waiters])
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
  });
  let err = '';
  child.stderr.on('data', (chunk) => (err += String(chunk)));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Generous: it resolves on the line itself; the ceiling only ends a hang, on a machine that may be loaded.
  const waitFor = (match: (line: Record<string, unknown>) => boolean, ms = 120_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = lines.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(
        () => reject(new Error(`timed out; log so far:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${err}`)),
        ms,
      );
      waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${code}; stderr:\n${err}\nlog:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
      });
    });
  return { child, lines, stderr: () => err, exit, waitFor };
}
