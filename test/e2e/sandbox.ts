// How the node agent starts one container's process the way a container runtime would, with
// tools of this machine: bubblewrap builds the container's mount namespace (the image's files,
// each volume at its mountPath, /proc, /dev, a private /tmp unless a volume is there, the root
// read-only when securityContext.readOnlyRootFilesystem says so), `ip netns exec` puts it in
// the pod's network namespace, and setpriv drops to the container's uid/gid with no
// capabilities and no_new_privs. The process gets only the environment the pod spec gives it.
//
// The "image" is this machine's own root filesystem, with the image's application folder bound
// in (see images.ts): programs see the paths and permissions they would see in the image.
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  /** argv prefix that enters the pod's network namespace, e.g. ['ip', 'netns', 'exec', 'ns']. */
  netns: string[];
  hostname: string;
  mounts: Mount[];
  readOnlyRoot: boolean;
  workingDir: string;
  uid: number;
  gid: number;
  supplementalGroups?: number[];
  env: Record<string, string>;
  argv: string[];
}

/** Host folders never shown to a container: the host's own state, homes and work trees. */
const HIDDEN = new Set(['/proc', '/dev', '/sys', '/tmp', '/run', '/root', '/home', '/work', '/old_root', '/lost+found', '/mnt', '/media', '/srv', '/boot', '/farm']);

/** The full command line: netns, then bwrap, then setpriv, then the container's argv. */
export function sandboxCommand(spec: SandboxSpec): string[] {
  const targets = spec.mounts.map((m) => resolveThroughSymlinks(m.target));
  const parents = new Set<string>();
  for (const target of [...targets, spec.workingDir]) {
    for (let dir = dirname(target); dir !== '/'; dir = dirname(dir)) parents.add(dir);
    parents.add(target);
  }
  const bwrap = ['bwrap', '--tmpfs', '/'];
  addTree('/', parents, new Set(targets), bwrap);
  bwrap.push('--proc', '/proc', '--dev', '/dev', '--ro-bind', '/sys', '/sys', '--dir', '/run');
  // Folders on the way to a mount point are 0755, as a runtime makes them (bwrap would make the
  // ones it creates itself 0700, closed to the container's user).
  for (const parent of [...parents].sort()) if (!targets.includes(parent)) bwrap.push('--perms', '0755', '--dir', parent);
  if (!targets.includes('/tmp')) bwrap.push('--tmpfs', '/tmp');
  else bwrap.push('--dir', '/tmp');
  spec.mounts.forEach((mount, index) => {
    bwrap.push(mount.readOnly ? '--ro-bind' : '--bind', mount.source, targets[index] as string);
  });
  if (spec.readOnlyRoot) bwrap.push('--remount-ro', '/');
  bwrap.push(
    '--chdir', spec.workingDir,
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', spec.hostname,
    '--die-with-parent', '--new-session', '--clearenv',
  );
  for (const [name, value] of Object.entries(spec.env)) bwrap.push('--setenv', name, value);
  const groups = spec.supplementalGroups?.length ? [`--groups=${spec.supplementalGroups.join(',')}`] : ['--clear-groups'];
  const setpriv = [
    'setpriv', `--reuid=${spec.uid}`, `--regid=${spec.gid}`, ...groups,
    '--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--',
  ];
  return [...spec.netns, ...bwrap, '--', ...setpriv, ...spec.argv];
}

/**
 * Mirrors the host's tree into the tmpfs root: read-only binds of everything, except folders on
 * the way to a mount point, which are made as folders and filled entry by entry, so a volume
 * can be mounted at a path that does not exist on the host (/etc/podpattern/tls).
 */
function addTree(dir: string, parents: Set<string>, targets: Set<string>, into: string[]): void {
  const entries = existsSync(dir) ? readdirSync(dir) : [];
  for (const entry of entries) {
    const path = posix.join(dir, entry);
    if (HIDDEN.has(path) || targets.has(path)) {
      if (targets.has(path) || parents.has(path)) into.push('--dir', path);
      continue;
    }
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) into.push('--symlink', readlinkSync(path), path);
    else if (parents.has(path) && stat.isDirectory()) {
      into.push('--dir', path);
      addTree(path, parents, targets, into);
    } else into.push('--ro-bind', path, path);
  }
  for (const parent of parents) {
    if (dirname(parent) === dir && !entries.includes(parent.slice(dir === '/' ? 1 : dir.length + 1))) {
      into.push('--dir', parent);
      addTree(parent, parents, targets, into);
    }
  }
}

/** /var/run/secrets/... is /run/secrets/... on Debian, where /var/run links to /run. */
function resolveThroughSymlinks(path: string): string {
  const parts = path.split('/').filter(Boolean);
  let resolved = '/';
  for (const part of parts) {
    const next = join(resolved, part);
    try {
      const stat = lstatSync(next);
      if (stat.isSymbolicLink()) {
        const link = readlinkSync(next);
        resolved = link.startsWith('/') ? link : join(resolved, link);
        continue;
      }
    } catch {
      // not on the host: a new folder in the container
    }
    resolved = next;
  }
  return resolved;
}
