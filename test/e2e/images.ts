// Which images the node agent can run, and how. There is no container runtime here, so an
// image is stood for by this machine's filesystem plus the image's own application folder,
// run with the image's ENTRYPOINT, CMD, WORKDIR, USER and ENV. podpattern's image is read from
// the project's Dockerfile (its last stage), so the e2e suite starts the server exactly as the
// image would: `node --max-semi-space-size=4 dist/src/bin/podpattern.js` + the pod's args, as
// uid 65532, from /app, which is this checkout (built by `npm run build`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mount } from '../podrunner/sandbox.js';

export interface Image {
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  uid: number;
  gid: number;
  env: Record<string, string>;
  /** The image's own files, bound read-only over the host's. */
  mounts: Mount[];
}

/** PATH as Debian-based images set it. */
export const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The runtime stage of a Dockerfile: ENTRYPOINT/CMD (exec form), WORKDIR, USER, ENV. */
export function readDockerfile(path: string): Omit<Image, 'mounts'> {
  const lines = readFileSync(path, 'utf8').split('\n');
  const starts = lines.map((line, index) => (/^FROM\s/i.test(line.trim()) ? index : -1));
  const lastFrom = Math.max(...starts);
  const image: Omit<Image, 'mounts'> = { entrypoint: [], cmd: [], workingDir: '/', uid: 0, gid: 0, env: { PATH: IMAGE_PATH } };
  for (const raw of lines.slice(lastFrom + 1)) {
    const line = raw.trim();
    const [instruction, ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    switch (instruction?.toUpperCase()) {
      case 'ENTRYPOINT':
        image.entrypoint = JSON.parse(value) as string[];
        break;
      case 'CMD':
        image.cmd = JSON.parse(value) as string[];
        break;
      case 'WORKDIR':
        image.workingDir = value;
        break;
      case 'USER': {
        const [uid, gid] = value.split(':');
        image.uid = Number(uid);
        image.gid = Number(gid ?? uid);
        break;
      }
      case 'ENV': {
        const eq = value.indexOf('=');
        if (eq > 0) image.env[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      default:
    }
  }
  if (image.entrypoint.length === 0) throw new Error(`${path}: the last stage has no exec-form ENTRYPOINT`);
  return image;
}

/** podpattern's image, whatever registry or tag the chart names it by. */
export function isPodpatternImage(image: string): boolean {
  return /(^|\/)podpattern([:@]|$)/.test(image);
}

export function podpatternImage(repoRoot: string): Image {
  const image = readDockerfile(join(repoRoot, 'Dockerfile'));
  // The image holds dist/, node_modules/ and package.json under WORKDIR: this checkout has them.
  return { ...image, mounts: [{ source: repoRoot, target: image.workingDir, readOnly: true }] };
}
