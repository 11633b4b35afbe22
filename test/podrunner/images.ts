// Which host program stands for which image. The table is small and explicit on purpose: a pod
// that names an image the table lacks fails to start with that reason, rather than running
// something else. Each entry maps the image's entrypoint and the command names the templates
// use to the Debian package's program, and records the image's default user.
import { fileURLToPath } from 'node:url';

export interface ImageProgram {
  /** The image's ENTRYPOINT (used when the container sets no command). */
  entrypoint?: string[];
  /** The image's CMD (used when the container sets neither command nor args). */
  cmd?: string[];
  /** Command names (argv[0], or its basename) to the host program and leading arguments. */
  commands: Record<string, string[]>;
  /** The image's USER, used when the securityContext sets no runAsUser. */
  user?: { uid: number; gid: number };
  /** Where this stand-in comes from (printed when a container fails). */
  from: string;
  /** Host paths bound read-only into the container, as [host, container]: the image's own files. */
  binds?: [string, string][];
  /** The image's WORKDIR, used when the container sets no workingDir. */
  workingDir?: string;
  /** The image is built on busybox (Alpine, busybox): its applets are on PATH. */
  busybox?: boolean;
  /** The image's STOPSIGNAL: what the runtime sends when the container stops (SIGTERM when unset). */
  stopSignal?: NodeJS.Signals;
}

/** Images by repository, without tag or digest. */
export type ImageMap = Record<string, ImageProgram>;

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Where the official node image keeps node. */
const IMAGE_NODE = '/usr/local/bin/node';
const busyboxApplets = (names: string[]): Record<string, string[]> =>
  Object.fromEntries(names.map((name) => [name, ['/usr/bin/busybox', name]]));
const SHELL_TOOLS = busyboxApplets([
  'sh',
  'cp',
  'cat',
  'printf',
  'grep',
  'test',
  'ls',
  'stat',
  'nc',
  'wget',
  'mkdir',
  'echo',
  'true',
  'false',
  'id',
  'sleep',
  'httpd',
]);

export const DEFAULT_IMAGES: ImageMap = {
  'nginxinc/nginx-unprivileged': {
    from: 'Debian nginx-light',
    commands: { nginx: ['/usr/sbin/nginx'], ...SHELL_TOOLS },
    entrypoint: ['nginx'],
    cmd: ['-g', 'daemon off;'],
    user: { uid: 101, gid: 101 },
    busybox: true,
    stopSignal: 'SIGQUIT',
  },
  nginx: {
    from: 'Debian nginx-light',
    commands: { nginx: ['/usr/sbin/nginx'], ...SHELL_TOOLS },
    entrypoint: ['nginx'],
    cmd: ['-g', 'daemon off;'],
    user: { uid: 0, gid: 0 },
    stopSignal: 'SIGQUIT',
  },
  busybox: { from: 'Debian busybox', commands: SHELL_TOOLS, cmd: ['sh'], user: { uid: 0, gid: 0 }, busybox: true },
  'alpine/socat': {
    from: 'Debian socat',
    commands: { socat: ['/usr/bin/socat'], ...SHELL_TOOLS },
    entrypoint: ['socat'],
    user: { uid: 0, gid: 0 },
    busybox: true,
  },
  'ghcr.io/podpattern/twemproxy': {
    from: 'Debian nutcracker (the image is built from it: images/twemproxy)',
    commands: { nutcracker: ['/usr/sbin/nutcracker'], sh: ['/bin/sh'] },
    entrypoint: ['nutcracker'],
    user: { uid: 65534, gid: 65534 },
    stopSignal: 'SIGINT',
  },
  redis: {
    from: 'Debian redis-server',
    commands: { 'redis-server': ['/usr/bin/redis-server'], 'redis-cli': ['/usr/bin/redis-cli'], ...SHELL_TOOLS },
    cmd: ['redis-server'],
    user: { uid: 999, gid: 999 },
  },
  'oliver006/redis_exporter': {
    from: 'Debian prometheus-redis-exporter',
    commands: { '/redis_exporter': ['/usr/bin/prometheus-redis-exporter'] },
    entrypoint: ['/redis_exporter'],
    user: { uid: 59000, gid: 59000 },
  },
  // The image's ENTRYPOINT, WORKDIR and contents (/app: dist, node_modules, package.json) as the
  // Dockerfile lays them out, bound from this repository's build, and the node running the tests
  // where the official node image has it: the host's own path to it may lie in a folder a
  // container does not see (the pinned release is cached under ~/.cache, and /root is hidden).
  'ghcr.io/podpattern/podpattern': {
    from: 'this repository (npm run build)',
    commands: { node: [IMAGE_NODE] },
    entrypoint: ['node', '--max-semi-space-size=4', 'dist/src/bin/podpattern.js'],
    cmd: ['serve'],
    workingDir: '/app',
    user: { uid: 65532, gid: 65532 },
    binds: [
      [process.execPath, IMAGE_NODE],
      [`${REPO}dist`, '/app/dist'],
      [`${REPO}node_modules`, '/app/node_modules'],
      [`${REPO}package.json`, '/app/package.json'],
    ],
  },
};

/** `registry/repo:tag@sha256:…` -> `registry/repo` (docker.io/library/ and docker.io/ dropped). */
export function repositoryOf(image: string): string {
  const withoutDigest = image.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repo = colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
  return repo.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

/** The host argv for a container's command line, or why there is none. */
export function resolveArgv(images: ImageMap, image: string, command: string[] | undefined, args: string[] | undefined): string[] {
  const program = images[repositoryOf(image)];
  if (program === undefined) throw new Error(`image ${image}: no host program stands for it in the pod runner's image table`);
  const argv =
    command !== undefined && command.length > 0
      ? [...command, ...(args ?? [])]
      : [...(program.entrypoint ?? []), ...(args ?? program.cmd ?? [])];
  return resolveCommand(program, image, argv);
}

export function resolveCommand(program: ImageProgram, image: string, argv: string[]): string[] {
  const [first, ...rest] = argv;
  if (first === undefined) throw new Error(`image ${image}: the container has no command and the image no entrypoint`);
  const host = program.commands[first] ?? program.commands[first.split('/').pop()!];
  if (host === undefined) throw new Error(`image ${image}: command '${first}' has no host stand-in (${program.from})`);
  return [...host, ...rest];
}
