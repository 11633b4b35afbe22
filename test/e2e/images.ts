// The images the node agent runs, pulled as a kubelet pulls them: from the run's registry (the
// release rehearsal pushed podpattern's image there), by digest, unpacked once per digest into
// a root filesystem, and run with the image config's ENTRYPOINT, CMD, WORKDIR, USER and ENV.
// crane (go-containerregistry) does the registry side: `crane export` writes the image's
// filesystem as one tar stream with the layers applied in order and their whiteouts honoured
// (a file a later layer deletes is absent), which tar unpacks as root, keeping owners and modes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './cluster.js';
import { childEnv } from './processes.js';

export interface Image {
  /** The reference pulled, with the digest it resolved to: `127.0.0.1:5000/podpattern@sha256:…`. */
  id: string;
  digest: string;
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  uid: number;
  gid: number;
  env: Record<string, string>;
  /** The unpacked root filesystem (shared, never written to). */
  rootfs: string;
}

/** A pull that failed: the kubelet's ErrImagePull, with the registry's message. */
export class PullError extends Error {}

/** podpattern's image, whatever registry, tag or digest names it. */
export function isPodpatternImage(image: string): boolean {
  return /(^|\/)podpattern([:@]|$)/.test(image);
}

interface ImageConfig {
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string; User?: string; Env?: string[] | null };
}

export interface ImageStore {
  /** Pulls `reference` (once per digest) and returns how to run it; rejects with a PullError. */
  pull(reference: string): Promise<Image>;
}

/**
 * Pulls images from `registry` (host:port) only: a reference to any other registry fails as an
 * unreachable one would, without dialing it. Root filesystems go to `dir`/<digest>/.
 */
export function imageStore(crane: string, registry: string, dir: string): ImageStore {
  const pulls = new Map<string, Promise<Image>>();
  const craneRun = async (args: string[]): Promise<string> => {
    const result = await run(crane, args, { timeoutMs: 600_000 });
    if (result.code !== 0)
      throw new PullError(`crane ${args[0]} ${args.at(-1)}: ${result.stderr.trim().split('\n').at(-1) ?? `exit ${result.code}`}`);
    return result.stdout;
  };
  return {
    async pull(reference) {
      if (!reference.startsWith(`${registry}/`)) {
        throw new PullError(`failed to pull image "${reference}": the e2e node pulls only from the run's registry ${registry}`);
      }
      try {
        const digest = /@(sha256:[a-f0-9]{64})$/.exec(reference)?.[1] ?? (await craneRun(['digest', reference])).trim();
        const id = `${reference.replace(/[@:][^/]*$/, '')}@${digest}`;
        let pulled = pulls.get(digest);
        if (pulled === undefined) {
          pulled = unpack(id, digest);
          pulls.set(digest, pulled);
          pulled.catch(() => pulls.delete(digest)); // a failed pull is tried again next time
        }
        return await pulled;
      } catch (error) {
        // The kubelet's wording, then the registry's own answer.
        throw error instanceof PullError ? new PullError(`failed to pull and unpack image "${reference}": ${error.message}`) : error;
      }
    },
  };

  async function unpack(id: string, digest: string): Promise<Image> {
    const config = JSON.parse(await craneRun(['config', id])) as ImageConfig;
    const target = join(dir, digest.replace(':', '-'));
    const rootfs = join(target, 'rootfs');
    if (!existsSync(rootfs)) {
      const partial = `${rootfs}.partial`;
      rmSync(partial, { recursive: true, force: true });
      mkdirSync(partial, { recursive: true });
      await exportInto(id, partial);
      renameSync(partial, rootfs);
    }
    return imageOf(id, digest, rootfs, config);
  }

  /** `crane export IMAGE - | tar -x`: the flattened filesystem, owners and modes kept. */
  function exportInto(id: string, into: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const exporter = spawn(crane, ['export', id, '-'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      const tar = spawn('tar', ['-x', '-C', into, '--numeric-owner', '--same-owner', '--same-permissions'], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      exporter.stdout.pipe(tar.stdin);
      let errors = '';
      exporter.stderr.on('data', (chunk) => (errors += String(chunk)));
      tar.stderr.on('data', (chunk) => (errors += String(chunk)));
      const codes = [exporter, tar].map((child) => new Promise<number | null>((done) => child.once('close', done)));
      void Promise.all(codes).then(([exported, untarred]) => {
        if (exported === 0 && untarred === 0) resolve();
        else
          reject(
            new PullError(
              `unpacking ${id} failed (crane export ${exported}, tar ${untarred}): ${errors.trim().split('\n').slice(-3).join(' ')}`,
            ),
          );
      });
    });
  }
}

/** What the image config says about running it; a named USER is looked up in the image's files. */
function imageOf(id: string, digest: string, rootfs: string, { config = {} }: ImageConfig): Image {
  const env: Record<string, string> = {};
  for (const entry of config.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const [user = '0', group] = (config.User || '0').split(':');
  const uid = idOf(rootfs, 'passwd', user);
  const gid = group === undefined ? primaryGroup(rootfs, user, uid) : idOf(rootfs, 'group', group);
  const entrypoint = config.Entrypoint ?? [];
  const cmd = config.Cmd ?? [];
  if (entrypoint.length === 0 && cmd.length === 0) throw new PullError(`${id}: the image config has neither ENTRYPOINT nor CMD`);
  return { id, digest, entrypoint, cmd, workingDir: config.WorkingDir || '/', uid, gid, env, rootfs };
}

/** A numeric id, or the id of a name in the image's /etc/passwd or /etc/group. */
function idOf(rootfs: string, file: 'passwd' | 'group', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readLines(rootfs, file).find((fields) => fields[0] === name);
  if (line === undefined) throw new PullError(`the image's USER names ${name}, which its /etc/${file} lacks`);
  return Number(line[2]);
}

function primaryGroup(rootfs: string, user: string, uid: number): number {
  const line = readLines(rootfs, 'passwd').find((fields) => fields[0] === user || Number(fields[2]) === uid);
  return line === undefined ? uid : Number(line[3]);
}

function readLines(rootfs: string, file: string): string[][] {
  const path = join(rootfs, 'etc', file);
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .map((line) => line.split(':'))
    : [];
}
