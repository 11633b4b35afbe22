// One container's view of the machine, the way a container runtime would build it, with tools
// of this machine. Both the pod runner (test/podrunner) and the end-to-end suite's node agent
// (test/e2e/node-agent.ts) start containers through it, so a program proven under one is run the
// same way under the other.
//
// - bubblewrap builds the mount namespace: the host's directories stand in for the image's root
//   filesystem, bound read-only (writes land only in the pod's volumes, plus a private /tmp and
//   /run when the root is writable); host state that no image holds (homes, work trees, /root)
//   is left out; each volume is bound at its mountPath; /proc, /dev, /sys; the pod's own
//   /etc/hosts and /etc/resolv.conf when the caller writes them, as the kubelet does.
// - The process gets its own pid, IPC and UTS namespaces (hostname = the pod's name) and starts
//   in the container's workingDir, else the image's WORKDIR, else '/'.
// - setpriv drops to the container's uid/gid and groups, with every capability dropped except
//   those securityContext.capabilities.add lists, and no_new_privs unless privilege escalation
//   is allowed for root.
// The caller enters the pod's network namespace first (`ip netns exec NS …`) and supplies the
// environment with `envArgs`, so the process sees only what the pod spec gives it.
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  /** Volumes at their mount paths and the image's own files, bound over the host's. */
  mounts: Mount[];
  readOnlyRoot: boolean;
  workingDir: string;
  /** The pod's name, as the container's hostname. */
  hostname?: string;
  uid: number;
  gid: number;
  /** Supplementary groups: the pod's fsGroup and supplementalGroups. */
  groups: number[];
  /** securityContext.capabilities.add, e.g. ['NET_BIND_SERVICE']. */
  addCapabilities?: string[];
  allowPrivilegeEscalation?: boolean;
  /** Pod-level files the kubelet bind-mounts into every container. */
  etcHosts?: string;
  resolvConf?: string;
  /** File descriptor on which bwrap reports the container's pid. */
  infoFd?: number;
}

/** Host folders that never stand in for an image's: the pod gets its own, or none. */
const HIDDEN = new Set(['/proc', '/dev', '/sys', '/tmp', '/run', '/root', '/home', '/work', '/old_root', '/lost+found', '/mnt', '/media', '/srv', '/boot', '/farm']);

/** The `bwrap … -- setpriv … --` prefix that runs a program as this container. */
export function sandboxArgs(spec: SandboxSpec): string[] {
  const mounts = spec.mounts.map((m) => ({ ...m, target: resolveThroughSymlinks(m.target) }));
  const podFiles: Mount[] = [];
  if (spec.etcHosts !== undefined) podFiles.push({ source: spec.etcHosts, target: '/etc/hosts', readOnly: true });
  if (spec.resolvConf !== undefined) podFiles.push({ source: spec.resolvConf, target: '/etc/resolv.conf', readOnly: true });
  const targets = [...mounts, ...podFiles].map((m) => m.target);
  const parents = new Set<string>();
  for (const target of [...targets, spec.workingDir]) {
    for (let dir = dirname(target); dir !== '/'; dir = dirname(dir)) parents.add(dir);
    if (target !== '/') parents.add(target);
  }
  // No --new-session: the container stays in its caller's process group, so a signal to the
  // group (a pod's termination) reaches the program itself, not only bwrap.
  const args = ['bwrap', '--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', spec.hostname ?? 'pod'];
  if (spec.infoFd !== undefined) args.push('--info-fd', String(spec.infoFd));
  args.push('--tmpfs', '/');
  mirrorHost('/', parents, new Set(targets), args);
  args.push('--proc', '/proc', '--dev', '/dev', '--ro-bind', '/sys', '/sys', '--dir', '/tmp', '--dir', '/run');
  // Folders on the way to a mount point are 0755, as a runtime makes them (bwrap would make the
  // ones it creates itself 0700, closed to a non-root container).
  for (const parent of [...parents].sort()) if (!targets.includes(parent)) args.push('--perms', '0755', '--dir', parent);
  // Shallow mounts first, so a volume inside another (/data and /data/cache) lands on top.
  for (const mount of [...mounts, ...podFiles].sort((a, b) => depth(a.target) - depth(b.target))) {
    args.push(mount.readOnly ? '--ro-bind' : '--bind', mount.source, mount.target);
  }
  // A writable root filesystem is the image's own copy; the stand-in gives writable scratch
  // space at /tmp and /run instead, unless a volume is mounted there. A read-only root gets none.
  if (!spec.readOnlyRoot) for (const dir of ['/tmp', '/run']) if (!targets.includes(dir)) args.push('--tmpfs', dir);
  args.push('--remount-ro', '/', '--chdir', spec.workingDir || '/');
  return [...args, '--', ...privilegeArgs(spec)];
}

/** What a container's spec says about its sandbox, given where each volume lives on the host. */
export function containerSandbox(container: V1Container, volumeDirs: Map<string, string>): Pick<SandboxSpec, 'mounts' | 'readOnlyRoot' | 'addCapabilities' | 'allowPrivilegeEscalation'> {
  const mounts = (container.volumeMounts ?? []).map((mount) => {
    const dir = volumeDirs.get(mount.name);
    if (dir === undefined) throw new Error(`container ${container.name} mounts volume ${mount.name}, which the pod does not declare`);
    return { source: mount.subPath ? join(dir, mount.subPath) : dir, target: mount.mountPath, readOnly: mount.readOnly === true };
  });
  const security = container.securityContext;
  return { mounts, readOnlyRoot: security?.readOnlyRootFilesystem === true, addCapabilities: security?.capabilities?.add, allowPrivilegeEscalation: security?.allowPrivilegeEscalation };
}

/** `env -i NAME=value …`: the program's whole environment. */
export function envArgs(env: Record<string, string>): string[] {
  return ['env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
}

export function groupArgs(groups: number[]): string {
  return groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`;
}

function privilegeArgs(spec: SandboxSpec): string[] {
  const added = (spec.addCapabilities ?? []).map((cap) => `+${cap.toLowerCase().replace(/^cap_/, '')}`);
  const caps = ['-all', ...added].join(',');
  const args = ['setpriv', `--reuid=${spec.uid}`, `--regid=${spec.gid}`, groupArgs(spec.groups), `--inh-caps=${caps}`, `--ambient-caps=${caps}`, `--bounding-set=${caps}`];
  if (spec.allowPrivilegeEscalation !== true || spec.uid !== 0) args.push('--no-new-privs');
  return [...args, '--'];
}

const depth = (path: string): number => path.split('/').filter(Boolean).length;

/**
 * Mirrors the host's tree into the tmpfs root: read-only binds of everything, except folders on
 * the way to a mount point, which are made as folders and filled entry by entry, so a volume
 * can be mounted at a path that does not exist on the host (/etc/podpattern/tls).
 */
function mirrorHost(dir: string, parents: Set<string>, targets: Set<string>, into: string[]): void {
  const entries = lstatSync(dir, { throwIfNoEntry: false })?.isDirectory() ? readdirSync(dir) : [];
  for (const entry of entries) {
    const path = posix.join(dir, entry);
    if (targets.has(path)) continue; // the bind makes its own mount point, a file or a folder
    if (HIDDEN.has(path)) {
      if (parents.has(path)) into.push('--dir', path);
      continue;
    }
    const stat = lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isSymbolicLink()) into.push('--symlink', readlinkSync(path), path);
    else if (parents.has(path) && stat.isDirectory()) {
      into.push('--dir', path);
      mirrorHost(path, parents, targets, into);
    } else if (stat.isDirectory() || stat.isFile()) into.push('--ro-bind', path, path);
  }
  for (const parent of parents) {
    if (!targets.has(parent) && dirname(parent) === dir && !entries.includes(parent.slice(dir === '/' ? 1 : dir.length + 1))) {
      into.push('--dir', parent);
      mirrorHost(parent, parents, targets, into);
    }
  }
}

/** /var/run/secrets/... is /run/secrets/... on Debian, where /var/run links to /run. */
function resolveThroughSymlinks(path: string): string {
  let resolved = '/';
  for (const part of path.split('/').filter(Boolean)) {
    const next = join(resolved, part);
    const stat = lstatSync(next, { throwIfNoEntry: false });
    resolved = stat?.isSymbolicLink() ? resolveLink(resolved, readlinkSync(next)) : next;
  }
  return resolved;
}

const resolveLink = (from: string, link: string): string => (link.startsWith('/') ? link : join(from, link));
