// Runs a program of an unpacked image the way Kubernetes runs the chart's container: the image's
// root filesystem read-only as `/`, a private /tmp, /proc and /dev, the volumes bound at their
// mount paths, the image's ENTRYPOINT and environment, in the working directory it names, as the
// user it names, with no capabilities and no_new_privs.
// The uid is dropped on the host first (setpriv), so the process is uid 65532 to the kernel, not
// only inside a user namespace; bubblewrap then builds the sandbox unprivileged, in a user
// namespace of its own (host root's files show as owned by nobody there, and stay read-only).
// It joins the pod's network namespace when one is given (`ip netns exec`), else gets its own
// with loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageConfig } from '../../scripts/oci.mjs';

export interface Volume {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface RunSpec {
  rootfs: string;
  config: ImageConfig;
  /** Replaces the image's CMD (Kubernetes' `args`). */
  args?: string[];
  /** Replaces the image's ENTRYPOINT (Kubernetes' `command`). */
  command?: string[];
  env?: Record<string, string>;
  volumes?: Volume[];
  /** `ip netns` name of the pod's network. */
  netns?: string;
}

/** The image's USER as numbers; a name would need /etc/passwd, which Kubernetes cannot check. */
export function imageUser(config: ImageConfig): { uid: number; gid: number } {
  const match = /^(\d+):(\d+)$/.exec(config.User ?? '');
  if (!match) throw new Error(`the image's USER is ${JSON.stringify(config.User)}, not numeric uid:gid`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

/** The argv that runs the container. */
export function containerArgv(spec: RunSpec): string[] {
  const { uid, gid } = imageUser(spec.config);
  // A runtime makes the mount points the image lacks (/dev, /etc/podpattern/tls).
  for (const target of ['/proc', '/dev', '/tmp', ...(spec.volumes ?? []).map((v) => v.target)])
    mkdirSync(join(spec.rootfs, target), { recursive: true });
  const env: Record<string, string> = {};
  for (const pair of spec.config.Env ?? []) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  Object.assign(env, spec.env);
  const netns = spec.netns === undefined ? [] : ['ip', 'netns', 'exec', spec.netns];
  const drop = [
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${gid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
  const bwrap = [
    'bwrap',
    '--die-with-parent',
    '--unshare-user',
    '--uid',
    String(uid),
    '--gid',
    String(gid),
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(spec.netns === undefined ? ['--unshare-net'] : []),
    '--hostname',
    'podpattern',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    spec.rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    ...(spec.volumes ?? []).flatMap((v) => [v.readOnly ? '--ro-bind' : '--bind', v.source, v.target]),
    '--chdir',
    spec.config.WorkingDir || '/',
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--',
  ];
  return [...netns, ...drop, ...bwrap, ...(spec.command ?? spec.config.Entrypoint ?? []), ...(spec.args ?? spec.config.Cmd ?? [])];
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the container to its end. */
export function runContainer(spec: RunSpec): Promise<Ran> {
  const [file, ...args] = containerArgv(spec);
  return new Promise((resolve, reject) => {
    const child = spawn(file ?? 'false', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Starts the container and leaves it running. */
export function startContainer(spec: RunSpec): ChildProcess {
  const [file, ...args] = containerArgv(spec);
  return spawn(file ?? 'false', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every process below `pid`, from /proc. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone since the listing
    }
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() ?? -1) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** A process's argv, from /proc ([] once it is gone). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** The fields of /proc/PID/status that say who a process is and what it may do. */
export function processCredentials(pid: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const [key, value] = line.split(':\t');
    if (key && value !== undefined && /^(Name|Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)$/.test(key))
      fields[key] = value.trim();
  }
  return fields;
}
