// Child processes of the e2e harness. Each runs in a process group of its own (detached), its
// output goes to a log file, and it is remembered here so teardown kills exactly the groups this
// harness created and nothing else on the machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync } from 'node:fs';
import { onExit } from 'signal-exit';

export interface Managed {
  name: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** The process's output so far (stdout and stderr interleaved). */
  log(): string;
}

const running = new Set<Managed>();

// Proxy variables would route the apiserver's calls to the webhook (and kubectl's calls to the
// apiserver) away from loopback; every child gets an environment without them.
const PROXY_VARS = ['http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'all_proxy'];

export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of PROXY_VARS) delete env[name];
  env.NO_PROXY = '127.0.0.1,localhost';
  return env;
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Managed {
  const out = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? childEnv(),
    detached: true, // a new process group, so stopProcess can signal the whole group
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => {
      out.write(`\n[harness] could not start ${command}: ${error.message}\n`);
      resolve('spawn-error');
    });
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  if (child.pid === undefined) {
    throw new Error(`could not start ${name} (${command}); is it installed? see ${options.logFile}`);
  }
  const managed: Managed = {
    name,
    pid: child.pid,
    logFile: options.logFile,
    child,
    exited,
    log: () => readFileSync(options.logFile, 'utf8'),
  };
  running.add(managed);
  void exited.then(() => {
    running.delete(managed);
    out.end();
  });
  return managed;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the leader has exited. */
export async function stopProcess(managed: Managed, graceMs = 5000): Promise<number | string> {
  if (!running.has(managed)) return managed.exited;
  signalGroup(managed.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(managed.pid, 'SIGKILL'), graceMs);
  const result = await managed.exited;
  clearTimeout(timer);
  signalGroup(managed.pid, 'SIGKILL'); // anything the leader left behind in its group
  return result;
}

export function isRunning(managed: Managed): boolean {
  return running.has(managed);
}

const tempDirs = new Set<string>();
const cleanups = new Set<() => void>();

/** A synchronous clean-up (network namespaces, a bridge) also run by the last-resort hook below. */
export function onCleanup(cleanup: () => void): void {
  cleanups.add(cleanup);
}

/** A temp dir removed by the last-resort hook below if teardown never runs; forget it after removing it. */
export function trackTempDir(dir: string): void {
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}

// Last resort when the test process ends without teardown (a crash, Ctrl-C, tap's timeout
// SIGALRM): kill only the groups started here and remove the temp dirs, synchronously, since
// exit handlers cannot wait. signal-exit (tap's own choice for this) runs on signals too, where
// process 'exit' does not.
onExit(() => {
  for (const managed of running) signalGroup(managed.pid, 'SIGKILL');
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort: the process is going away
    }
  }
  if (process.env.PODPATTERN_E2E_KEEP === '1') return;
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});
