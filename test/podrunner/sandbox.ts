// One container's view of the machine, built with bubblewrap inside the pod's network namespace:
// the host's directories stand in for the image's root filesystem (read-only, always: writes
// land only in the pod's volumes), the pod's volumes are bound at their mount paths, /etc/hosts
// and /etc/resolv.conf are the pod's own (as the kubelet writes them), and the process runs
// with the container's uid/gid, every capability dropped and no_new_privs set (setpriv).
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';

/** Host directories that never stand in for an image's: the pod gets its own of each. */
const OWN = new Set(['proc', 'dev', 'tmp', 'run', 'sys', 'lost+found']);

export interface SandboxInput {
  container: V1Container;
  volumeDirs: Map<string, string>;
  /** Pod-level files the kubelet bind-mounts into every container. */
  etcHosts: string;
  resolvConf: string;
  uid: number;
  gid: number;
  /** Supplementary groups: the pod's fsGroup and supplementalGroups. */
  groups: number[];
  /** File descriptor on which bwrap reports the container's pid. */
  infoFd: number;
  /** A host directory of programs bound at APPLET_DIR (busybox applets for busybox-based images). */
  extraPath?: string;
  /** The image's own files, bound read-only: [host, container]. */
  imageBinds?: [string, string][];
}

export const APPLET_DIR = '/podrunner/bin';

/** The `bwrap … setpriv …` prefix that runs a program as this container. */
export function sandboxArgs(input: SandboxInput): string[] {
  const { container } = input;
  const mounts = (container.volumeMounts ?? []).map((mount) => {
    const dir = input.volumeDirs.get(mount.name);
    if (dir === undefined) throw new Error(`container ${container.name} mounts volume ${mount.name}, which the pod does not declare`);
    return { source: mount.subPath ? join(dir, mount.subPath) : dir, target: mount.mountPath, readOnly: mount.readOnly === true };
  });
  if (input.extraPath !== undefined) mounts.push({ source: input.extraPath, target: APPLET_DIR, readOnly: true });
  for (const [source, target] of input.imageBinds ?? []) mounts.push({ source, target, readOnly: true });
  const targets = [...mounts.map((m) => m.target), '/etc/hosts', '/etc/resolv.conf'];
  const args = ['bwrap', '--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--info-fd', String(input.infoFd)];
  args.push(...rootArgs(targets));
  args.push('--proc', '/proc', '--dev', '/dev', '--ro-bind', '/sys', '/sys');
  args.push('--ro-bind', input.etcHosts, '/etc/hosts', '--ro-bind', input.resolvConf, '/etc/resolv.conf');
  // Directories on the way to a mount point that the host lacks: made with --dir (mode 0755);
  // bwrap would otherwise make them 0700 and a non-root container could not reach its mount.
  const made = new Set<string>();
  for (const { target } of mounts) {
    const parts = target.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = '/' + parts.slice(0, i).join('/');
      if (!made.has(dir) && !exists(dir)) args.push('--dir', dir);
      made.add(dir);
    }
  }
  for (const mount of [...mounts].sort((a, b) => a.target.split('/').length - b.target.split('/').length)) {
    args.push(mount.readOnly ? '--ro-bind' : '--bind', mount.source, mount.target);
  }
  // A writable root filesystem is the image's own copy; the stand-in gives writable scratch
  // space at /tmp and /run instead, unless a volume is mounted there.
  const readOnlyRoot = container.securityContext?.readOnlyRootFilesystem === true;
  if (!readOnlyRoot) for (const dir of ['/tmp', '/run']) if (!targets.includes(dir)) args.push('--tmpfs', dir);
  args.push('--remount-ro', '/');
  // As a runtime does: the image's WORKDIR or the container's workingDir, else '/', never the
  // test's own folder (which may not exist inside, and then the program cannot open its files).
  args.push('--chdir', container.workingDir || '/');
  args.push('--', ...privilegeArgs(container, input.uid, input.gid, input.groups));
  return args;
}

export function groupArgs(groups: number[]): string {
  return groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`;
}

function privilegeArgs(container: V1Container, uid: number, gid: number, groups: number[]): string[] {
  const added = (container.securityContext?.capabilities?.add ?? []).map((cap) => `+${cap.toLowerCase().replace(/^cap_/, '')}`);
  const caps = ['-all', ...added].join(',');
  const args = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, groupArgs(groups), `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=${caps}`];
  if (container.securityContext?.allowPrivilegeEscalation !== true || uid !== 0) args.push('--no-new-privs');
  return [...args, '--'];
}

/**
 * The root: bwrap's own tmpfs with each host top-level entry bound read-only, except directories
 * on the way to a mount point that the host lacks (say /etc/https-proxy): those are rebuilt
 * entry by entry so the mount point can be made without touching the host.
 */
export function rootArgs(targets: string[]): string[] {
  const shadowed = new Set<string>();
  for (const target of targets) {
    const parts = target.split('/').filter(Boolean);
    const missing = parts.findIndex((_, i) => !exists('/' + parts.slice(0, i + 1).join('/')));
    // Every existing ancestor of the first missing component is rebuilt; bwrap then makes the
    // missing part on its own tmpfs.
    for (let j = 1; j <= missing; j++) shadowed.add('/' + parts.slice(0, j).join('/'));
  }
  const args: string[] = [];
  copyDirectory('/', shadowed, args);
  args.push('--dir', '/tmp', '--dir', '/run');
  return args;
}

function copyDirectory(dir: string, shadowed: Set<string>, args: string[]): void {
  for (const entry of readdirSync(dir)) {
    if (dir === '/' && OWN.has(entry)) continue;
    const path = join(dir, entry);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isSymbolicLink()) {
      args.push('--symlink', readlinkSync(path), path);
    } else if (stat.isDirectory() && shadowed.has(path)) {
      args.push('--dir', path);
      copyDirectory(path, shadowed, args);
    } else if (stat.isDirectory() || stat.isFile()) {
      args.push('--ro-bind', path, path);
    }
  }
}

function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}
