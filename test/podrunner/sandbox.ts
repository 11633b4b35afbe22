// One container's view of the machine, the way a container runtime would build it, with tools
// of this machine. Both the pod runner (test/podrunner) and the end-to-end suite's node agent
// (test/e2e/node-agent.ts) start containers through it, so a program proven under one is run the
// same way under the other.
//
// - bubblewrap builds the mount namespace: the image's root filesystem when the caller has one
//   unpacked (`rootfs`, the e2e node agent's pulled images), else the host's directories stand
//   in for it, bound read-only (writes land only in the pod's volumes, plus a private /tmp and
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
// In an image's root filesystem, setpriv and env are the host's, bound with their loader and
// libraries into RUNTIME_DIR and run through that loader: a container runtime needs nothing
// from the image to start it, and neither does this.
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { V1Container } from '#kube';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  /** An unpacked image to be the container's `/` (read-only; shared by every container of it). */
  rootfs?: string;
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
  /**
   * The program is the first process (PID 1) of its pid namespace, as a container runtime runs
   * it, rather than a child of bwrap's reaper: then the kernel delivers a signal sent from
   * outside only if the program handles it (pid_namespaces(7)), which is what decides whether a
   * container stops on its stop signal or waits for SIGKILL.
   */
  asPid1?: boolean;
}

/** Host folders that never stand in for an image's: the pod gets its own, or none. */
const HIDDEN = new Set([
  '/proc',
  '/dev',
  '/sys',
  '/tmp',
  '/run',
  '/root',
  '/home',
  '/work',
  '/old_root',
  '/lost+found',
  '/mnt',
  '/media',
  '/srv',
  '/boot',
  '/farm',
]);
/** An image's folders the sandbox makes itself, as a runtime does. */
const RUNTIME_OWNED = new Set(['/proc', '/dev', '/sys', '/tmp', '/run']);

/** The `bwrap … -- setpriv … --` prefix that runs a program as this container. */
export function sandboxArgs(spec: SandboxSpec): string[] {
  const root = spec.rootfs ?? '/';
  const mounts = spec.mounts.map((m) => ({ ...m, target: resolveThroughSymlinks(root, m.target) }));
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
  const args = ['bwrap', '--die-with-parent', ...namespaceArgs(spec), '--tmpfs', '/'];
  mirrorTree({ root, hidden: spec.rootfs === undefined ? HIDDEN : RUNTIME_OWNED }, '/', parents, new Set(targets), args);
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
  if (spec.rootfs !== undefined) {
    args.push('--perms', '0755', '--dir', RUNTIME_DIR);
    for (const [name, file] of runtimeFiles()) args.push('--ro-bind', file, posix.join(RUNTIME_DIR, name));
  }
  args.push('--remount-ro', '/', '--chdir', spec.workingDir || '/');
  return [...args, '--', ...privilegeArgs(spec)];
}

function namespaceArgs(spec: SandboxSpec): string[] {
  const args = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', spec.hostname ?? 'pod'];
  if (spec.asPid1 === true) args.push('--as-pid-1');
  if (spec.infoFd !== undefined) args.push('--info-fd', String(spec.infoFd));
  return args;
}

/** What a container's spec says about its sandbox, given where each volume lives on the host. */
export function containerSandbox(
  container: V1Container,
  volumeDirs: Map<string, string>,
): Pick<SandboxSpec, 'mounts' | 'readOnlyRoot' | 'addCapabilities' | 'allowPrivilegeEscalation'> {
  const mounts = (container.volumeMounts ?? []).map((mount) => {
    const dir = volumeDirs.get(mount.name);
    if (dir === undefined) throw new Error(`container ${container.name} mounts volume ${mount.name}, which the pod does not declare`);
    return { source: mount.subPath ? join(dir, mount.subPath) : dir, target: mount.mountPath, readOnly: mount.readOnly === true };
  });
  const security = container.securityContext;
  return {
    mounts,
    readOnlyRoot: security?.readOnlyRootFilesystem === true,
    addCapabilities: security?.capabilities?.add,
    allowPrivilegeEscalation: security?.allowPrivilegeEscalation,
  };
}

/** `env -i NAME=value …`: the program's whole environment (`rootfs`: the sandbox runs an image). */
export function envArgs(env: Record<string, string>, rootfs?: string): string[] {
  return [...(rootfs === undefined ? ['env'] : runtimeTool('env')), '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
}

/** Where an image's sandbox finds the host's setpriv and env. */
export const RUNTIME_DIR = '/.e2e-runtime';
const RUNTIME_TOOLS = ['/usr/bin/setpriv', '/usr/bin/env'];
let runtime: { files: Map<string, string>; loader: string } | undefined;

/** The host's setpriv and env, their loader and the libraries ldd(1) says they load: name -> host file. */
function runtimeFiles(): Map<string, string> {
  if (runtime === undefined) {
    // Each file is bound under the name the tools ask for (libcap-ng.so.0), from its real file.
    const files = new Map(RUNTIME_TOOLS.map((tool) => [posix.basename(tool), tool]));
    let loader: string | undefined;
    for (const tool of RUNTIME_TOOLS) {
      const listed = spawnSync('ldd', [tool], { encoding: 'utf8' });
      if (listed.status !== 0) throw new Error(`ldd ${tool} failed: ${listed.stderr.trim()}`);
      for (const line of listed.stdout.split('\n')) {
        const library = /=>\s+(\/\S+)/.exec(line)?.[1];
        if (library !== undefined) files.set(posix.basename(library), realpathSync(library));
        const interpreter = /^\s*(\/\S*ld-linux\S*)/.exec(line)?.[1];
        if (interpreter !== undefined) {
          loader = posix.basename(interpreter);
          files.set(loader, realpathSync(interpreter));
        }
      }
    }
    if (loader === undefined) throw new Error(`ldd names no loader for ${RUNTIME_TOOLS.join(' ')}`);
    runtime = { files, loader };
  }
  return runtime.files;
}

/** argv that runs the host's `tool` inside an image's sandbox. */
function runtimeTool(name: string): string[] {
  runtimeFiles();
  const at = (file: string): string => posix.join(RUNTIME_DIR, posix.basename(file));
  return [at(runtime?.loader as string), '--library-path', RUNTIME_DIR, at(name)];
}

export function groupArgs(groups: number[]): string {
  return groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`;
}

function privilegeArgs(spec: SandboxSpec): string[] {
  const added = (spec.addCapabilities ?? []).map((cap) => `+${cap.toLowerCase().replace(/^cap_/, '')}`);
  const caps = ['-all', ...added].join(',');
  const args = [
    ...(spec.rootfs === undefined ? ['setpriv'] : runtimeTool('setpriv')),
    `--reuid=${spec.uid}`,
    `--regid=${spec.gid}`,
    groupArgs(spec.groups),
    `--inh-caps=${caps}`,
    `--ambient-caps=${caps}`,
    `--bounding-set=${caps}`,
  ];
  if (spec.allowPrivilegeEscalation !== true || spec.uid !== 0) args.push('--no-new-privs');
  return [...args, '--'];
}

const depth = (path: string): number => path.split('/').filter(Boolean).length;

/**
 * Mirrors a tree (the host's, or an unpacked image's) into the tmpfs root: read-only binds of
 * everything, except folders on the way to a mount point, which are made as folders and filled
 * entry by entry, so a volume can be mounted at a path the tree lacks (/etc/podpattern/tls)
 * without writing into the tree.
 */
function mirrorTree(
  tree: { root: string; hidden: Set<string> },
  dir: string,
  parents: Set<string>,
  targets: Set<string>,
  into: string[],
): void {
  const source = (path: string): string => posix.join(tree.root, path);
  const entries = lstatSync(source(dir), { throwIfNoEntry: false })?.isDirectory() ? readdirSync(source(dir)) : [];
  for (const entry of entries) {
    const path = posix.join(dir, entry);
    if (targets.has(path)) continue; // the bind makes its own mount point, a file or a folder
    if (tree.hidden.has(path)) {
      if (parents.has(path)) into.push('--dir', path);
      continue;
    }
    const stat = lstatSync(source(path), { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isSymbolicLink()) into.push('--symlink', readlinkSync(source(path)), path);
    else if (parents.has(path) && stat.isDirectory()) {
      into.push('--dir', path);
      mirrorTree(tree, path, parents, targets, into);
    } else if (stat.isDirectory() || stat.isFile()) into.push('--ro-bind', source(path), path);
  }
  for (const parent of parents) {
    if (!targets.has(parent) && dirname(parent) === dir && !entries.includes(parent.slice(dir === '/' ? 1 : dir.length + 1))) {
      into.push('--dir', parent);
      mirrorTree(tree, parent, parents, targets, into);
    }
  }
}

/**
 * /var/run/secrets/... is /run/secrets/... on Debian, where /var/run links to /run. Links are
 * read inside `root` (an image's absolute links point into the image, not the host).
 */
function resolveThroughSymlinks(root: string, path: string): string {
  let resolved = '/';
  for (const part of path.split('/').filter(Boolean)) {
    const next = join(resolved, part);
    const stat = lstatSync(join(root, next), { throwIfNoEntry: false });
    resolved = stat?.isSymbolicLink() ? resolveLink(resolved, readlinkSync(join(root, next))) : next;
  }
  return resolved;
}

const resolveLink = (from: string, link: string): string => (link.startsWith('/') ? link : join(from, link));
