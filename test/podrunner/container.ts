// One running container: its process in the pod's sandbox, its log, and exec into it.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, openSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { V1Container } from '#kube';
import { containerSandbox, envArgs, groupArgs, sandboxArgs } from './sandbox.js';

export interface ContainerProcess {
  name: string;
  child: ChildProcess;
  /** Host pid of the sandbox's first process (the container's namespaces), once known. */
  pid: Promise<number>;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
  /** Runs argv in the container's mount, network and pid namespaces, as its user. */
  exec(argv: string[], env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; output: string }>;
  /** Signals every process of the container (its process group): SIGKILL at the end of a grace period. */
  kill(signal: NodeJS.Signals): void;
  /** Sends `signal` to the container's first process only, as a runtime sends a stop signal. */
  signal(signal: NodeJS.Signals): Promise<void>;
}

export interface LaunchInput {
  container: V1Container;
  volumeDirs: Map<string, string>;
  /** Pod-level files the kubelet bind-mounts into every container. */
  etcHosts: string;
  resolvConf: string;
  uid: number;
  gid: number;
  /** Supplementary groups: the pod's fsGroup and supplementalGroups. */
  groups: number[];
  /** The image's own files, bound read-only: [host, container]. */
  imageBinds?: [string, string][];
  /** The pod's name, the container's hostname. */
  hostname: string;
  netns: string;
  argv: string[];
  env: Record<string, string>;
  /** The container's log: stdout and stderr are appended to <logPath>.stdout and .stderr. */
  logPath: string;
  /** Prepended to the image's PATH (a directory of busybox applets, for images built on busybox). */
  extraPath?: string;
}

/** Where a busybox-based image's applets are bound (the `extraPath` folder). */
export const APPLET_DIR = '/podrunner/bin';

function sandboxOf(input: LaunchInput): string[] {
  const { mounts, ...security } = containerSandbox(input.container, input.volumeDirs);
  if (input.extraPath !== undefined) mounts.push({ source: input.extraPath, target: APPLET_DIR, readOnly: true });
  for (const [source, target] of input.imageBinds ?? []) mounts.push({ source, target, readOnly: true });
  const { uid, gid, groups, etcHosts, resolvConf, hostname } = input;
  return sandboxArgs({
    ...security,
    mounts,
    uid,
    gid,
    groups,
    etcHosts,
    resolvConf,
    hostname,
    workingDir: input.container.workingDir || '/',
    infoFd: 3,
    asPid1: true,
  });
}

export function launch(input: LaunchInput): ContainerProcess {
  if (input.extraPath !== undefined) input = { ...input, env: { ...input.env, PATH: `${APPLET_DIR}:${input.env.PATH ?? ''}` } };
  const args = ['netns', 'exec', input.netns, ...sandboxOf(input), ...envArgs(input.env), ...input.argv];
  // detached: the container is a process group of its own, so stop() reaches every process in it.
  // stdout and stderr are a file, not Node's socket pair: programs that open /dev/stdout (nginx's
  // access_log) fail with ENXIO on a socket, and a container runtime never hands them one.
  // Mode 0666: a non-root container re-opens them through /proc/self/fd, which checks the mode.
  const [out, err] = [`${input.logPath}.stdout`, `${input.logPath}.stderr`].map((path) => {
    const fd = openSync(path, 'a', 0o666);
    chmodSync(path, 0o666);
    return fd;
  });
  const child = spawn('ip', args, { detached: true, stdio: ['ignore', out, err, 'pipe'] });
  closeSync(out!);
  closeSync(err!);
  let info = '';
  const pid = new Promise<number>((resolve, reject) => {
    const stream = child.stdio[3] as NodeJS.ReadableStream;
    stream.on('data', (chunk) => {
      info += String(chunk);
      const found = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (found) whenExecuted(Number(found[1])).then(resolve, reject);
    });
    child.once('exit', () => reject(new Error(`container ${input.container.name} exited before it started`)));
  });
  pid.catch(() => undefined);
  const result: ContainerProcess = {
    name: input.container.name,
    child,
    pid,
    exitCode: undefined,
    exited: new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        result.exitCode = code ?? (signal ? 128 : null);
        resolve(result.exitCode);
      }),
    ),
    exec: (argv, env, timeoutMs) =>
      execIn(
        input,
        pid,
        [...envArgs(input.extraPath === undefined ? env : { ...env, PATH: `${APPLET_DIR}:${env.PATH ?? ''}` }), ...argv],
        timeoutMs,
      ),
    kill: (signal) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* already gone */
      }
    },
    signal: async (signal) => {
      const target = await pid.catch(() => undefined);
      if (target !== undefined && result.exitCode === undefined)
        try {
          process.kill(target, signal);
        } catch {
          /* already gone */
        }
    },
  };
  return result;
}

/** What runs in the container's first process before the container's own program. */
const RUNTIME_PROGRAMS = new Set(['bwrap', 'setpriv', 'env']);

/**
 * bwrap reports the child's pid before it has built the container's mounts; exec and signals
 * wait until that process has become the container's own program, through bwrap, setpriv and env
 * (a runtime reports a container started only then).
 */
async function whenExecuted(pid: number): Promise<number> {
  for (;;) {
    let exe: string;
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return pid; // already gone: its exit is reported on `exited`
    }
    if (!RUNTIME_PROGRAMS.has(basename(exe))) return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs `argv` inside the running container whose first process is `pid`, as the container's user. */
async function execIn(
  { container, uid, gid, groups }: LaunchInput,
  pid: Promise<number>,
  argv: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  const target = await pid;
  const privileges = [
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${gid}`,
    groupArgs(groups),
    '--inh-caps=-all',
    '--ambient-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
  const child = spawn('nsenter', ['-t', String(target), '-m', '-n', '-p', '-i', '-u', '-r', '-w', '--', ...privileges, ...argv], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    // 'close', not 'exit': the process can exit before its last output has been read.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: code === null ? `${output}(killed after ${timeoutMs} ms in ${container.name})` : output });
    });
  });
}
