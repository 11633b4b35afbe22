// The image users deploy, built from the repository's Dockerfile by `npm run image` (a cached
// archive when the inputs have not changed), unpacked, inspected and run the way the chart
// runs it: as 65532 on a read-only root, `podpattern certs` making the certificate that the
// chart mounts, and `podpattern serve` answering /readyz and a real AdmissionReview over HTTPS
// in its own network namespace.
// `npm run test:image` runs this file (`npm run test:all` runs it between `npm test` and the
// end-to-end suite). What it needs and cannot find here fails it, naming the package: a
// release must never go untested because a tool was missing.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { V1Container } from '#kube';
import jsonpatch, { type Operation } from 'fast-json-patch';
import t from 'tap';
import { buildImage, type BuiltImage } from '../../scripts/image.mjs';
import { readNodeImage } from '../../scripts/image-base.mjs';
import { missingPrerequisites } from '../../scripts/image-tools.mjs';
import { unpackOciArchive, type OciImage } from '../../scripts/oci.mjs';
import { httpsProxyReview } from '../helpers/review.js';
import { httpsCall } from '../helpers/tls.js';
import { find, renderChart } from '../install/helpers.js';
import { createPodNetwork } from '../podrunner/netns.js';
import { commandLine, descendants, imageUser, processCredentials, runContainer, startContainer, type RunSpec } from './container.js';

const REPO = new URL('../../', import.meta.url).pathname.replace(/\/$/, '');
const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');

/**
 * The image's size budget (docs/images.md records the measurements): the whole image unpacked,
 * and its layers as pushed (gzip). A dependency or a stray file that grows the image past it
 * fails here; raise it on purpose, with the reason, when the growth is wanted.
 */
const SIZE_BUDGET = { unpackedBytes: 340e6, compressedBytes: 110e6 };

/** Tools the tests themselves use, beyond the build's, and their Debian packages. */
function missingTestTools(): string[] {
  const tools = [
    ['bwrap', 'bubblewrap'],
    ['setpriv', 'util-linux'],
    ['ip', 'iproute2'],
  ];
  return tools
    .filter(([command]) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status !== 0)
    .map(([command, pkg]) => `${command} is not installed (the image tests run the image with it): apt-get install ${pkg}`);
}

const problems = [...missingPrerequisites(), ...missingTestTools()];
if (problems.length > 0) {
  t.fail(`the image cannot be built and tested here:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
} else {
  let built: BuiltImage;
  let image: OciImage;
  const rootfs = mkdtempSync(join(tmpdir(), 'podpattern-image-'));
  // The root directory of a container is 0755; mkdtemp's 0700 would close it to the image's user.
  chmodSync(rootfs, 0o755);
  t.teardown(() => rmSync(rootfs, { recursive: true, force: true }));

  t.before(async () => {
    built = await buildImage({ log: (line) => t.comment(line) });
    image = unpackOciArchive(built.archive, rootfs);
    t.comment(`image ${built.digest} (${built.cached ? 'cached' : 'built'}): ${built.archive}`);
  });

  const baseSpec = (): RunSpec => ({ rootfs, config: image.config.config });

  t.test("config: the Dockerfile's user, entrypoint, command, working directory, environment and labels", async (t) => {
    const config = image.config.config;
    t.equal(config.User, '65532:65532', 'a numeric non-root user, so runAsNonRoot can be checked');
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1];
    t.ok(entrypoint, 'the Dockerfile has an ENTRYPOINT');
    t.same(config.Entrypoint, JSON.parse(entrypoint ?? '[]'));
    t.same(config.Cmd, ['serve']);
    t.equal(config.WorkingDir, '/app');
    t.ok(config.Env?.includes('NODE_ENV=production'), 'NODE_ENV=production');
    t.ok(config.Env?.includes(`NODE_VERSION=${readNodeImage(DOCKERFILE).nodeVersion}`), "the base's NODE_VERSION");
    t.same(Object.keys(config.ExposedPorts ?? {}).sort(), ['8080/tcp', '8443/tcp']);
    t.match(config.Labels, {
      'org.opencontainers.image.title': 'podpattern',
      'org.opencontainers.image.source': 'https://github.com/podpattern/podpattern',
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.revision': built.commit,
    });
    const dockerfileLabels = [...DOCKERFILE.matchAll(/(org\.opencontainers\.image\.\w+)=/g)].map((m) => m[1]).sort();
    t.same(Object.keys(config.Labels ?? {}).sort(), dockerfileLabels, "the Dockerfile's labels and no others (none from the builder)");
    t.match(built.commit, /^([0-9a-f]{40}(-dirty)?|unknown)$/, 'the revision is a commit');
    t.equal(image.config.os, 'linux');
    t.equal(image.config.architecture, 'amd64');
  });

  t.test('contents: the compiled program and production dependencies, nothing else of the repository', async (t) => {
    t.same(readdirSync(join(rootfs, 'app')).sort(), ['dist', 'node_modules', 'package.json']);
    t.same(readdirSync(join(rootfs, 'app/dist')), ['src'], 'dist/ holds the program only (no tests, benchmarks)');
    const app = walk(join(rootfs, 'app'));
    const own = app.filter((p) => !p.startsWith('node_modules/'));
    t.same(
      own.filter((p) => /\.ts$/.test(p) && !/\.d\.ts$/.test(p)),
      [],
      'no TypeScript sources',
    );
    t.same(
      app.filter((p) => /(^|\/)(\.git|\.cache)(\/|$)/.test(p)),
      [],
      'no .git or caches',
    );
    t.same(
      app.filter((p) => /\.(key|pem|crt)$/.test(p) || /(^|\/)(ca|tls)\.(key|crt)$/.test(p)),
      [],
      'no keys or certificates anywhere under /app',
    );
    // The lockfile marks each package that only the dev dependencies need (`dev: true`); a
    // production dependency may well need an @types package at run time.
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const installed = installedPackages(join(rootfs, 'app'));
    const production = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev !== true);
    t.same(
      installed.filter((path) => lock.packages[path]?.dev === true),
      [],
      'no package that only the dev dependencies need',
    );
    t.same(
      installed.filter((path) => lock.packages[path] === undefined),
      [],
      'no package the lockfile does not name',
    );
    t.same(
      production.filter(([path, p]) => p.optional !== true && !installed.includes(path)).map(([path]) => path),
      [],
      'every production package',
    );
    for (const tool of ['typescript', 'tap', 'eslint', '@tapjs/core', 'typescript-eslint', 'fast-check'])
      t.notOk(installed.includes(`node_modules/${tool}`), `${tool} is not installed`);
    t.ok(lstatSync(join(rootfs, 'app/dist/src/bin/podpattern.js')).isFile(), 'the program');
    t.ok(lstatSync(join(rootfs, 'app/dist/src/catalog/builtin/https-proxy.yaml')).isFile(), 'the built-in catalog');
    t.ok(lstatSync(join(rootfs, 'app/dist/src/server/malloc-trim.node')).isFile(), 'the native addon that trims the C heap');
  });

  t.test("the image's node is the pinned release", async (t) => {
    const ran = await runContainer({ ...baseSpec(), command: ['node', '--version'], args: [] });
    t.equal(ran.status, 0, ran.stderr);
    t.equal(ran.stdout.trim(), `v${readNodeImage(DOCKERFILE).nodeVersion}`);
  });

  t.test('runs as 65532 on a read-only root: `podpattern version` prints the commit; only /tmp is writable', async (t) => {
    const version = await runContainer({ ...baseSpec(), args: ['version'] });
    t.equal(version.status, 0, version.stderr);
    t.match(version.stdout, built.commit, 'the commit the image was built from');

    const probe = `const fs = require('node:fs');
      const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), app: tryWrite('/app/x'), root: tryWrite('/x'), tmp: tryWrite('/tmp/x') }));`;
    const ran = await runContainer({ ...baseSpec(), command: ['node', '-e', probe], args: [] });
    t.equal(ran.status, 0, ran.stderr);
    const seen = JSON.parse(ran.stdout) as Record<string, unknown>;
    t.match(seen, { uid: 65532, gid: 65532, tmp: 'written' });
    t.match(seen.app, /^(EROFS|EACCES)$/, '/app cannot be written');
    t.match(seen.root, /^(EROFS|EACCES)$/, '/ cannot be written');
  });

  t.test("size: within the budget; the base and podpattern's layers reported", async (t) => {
    const unpacked = treeBytes(rootfs);
    const layers = image.manifest.layers;
    const compressed = layers.reduce((sum, l) => sum + l.size, 0);
    // The base made from Debian's packages is one layer; the official one is several, of
    // about the same total.
    const [base, ...own] = layers;
    const baseTar = base ? await layerTarBytes(built.archive, base) : 0;
    let ownTar = 0;
    for (const layer of own) ownTar += await layerTarBytes(built.archive, layer);
    t.comment(`image: ${mb(unpacked)} unpacked, ${mb(compressed)} compressed in ${layers.length} layers`);
    t.comment(`base: ${mb(baseTar)} uncompressed (tar), ${mb(base?.size ?? 0)} compressed`);
    t.comment(
      `podpattern's ${own.length} layers: ${mb(ownTar)} uncompressed (tar), ${mb(own.reduce((sum, l) => sum + l.size, 0))} compressed`,
    );
    t.ok(unpacked <= SIZE_BUDGET.unpackedBytes, `unpacked ${mb(unpacked)} within the budget of ${mb(SIZE_BUDGET.unpackedBytes)}`);
    t.ok(compressed <= SIZE_BUDGET.compressedBytes, `compressed ${mb(compressed)} within the budget of ${mb(SIZE_BUDGET.compressedBytes)}`);
  });

  t.test(
    "serves: `podpattern certs`, then `podpattern serve` with the chart's flags answers /readyz and mutates a pod over HTTPS",
    async (t) => {
      const { uid, gid } = imageUser(image.config.config);
      const certs = mkdtempSync(join(tmpdir(), 'podpattern-image-certs-'));
      t.teardown(() => rmSync(certs, { recursive: true, force: true }));
      chownSync(certs, uid, gid);
      const net = await createPodNetwork();
      t.teardown(() => net.remove());

      // The chart's certificate, made by the image itself into a writable volume.
      const made = await runContainer({
        ...baseSpec(),
        netns: net.name,
        volumes: [{ source: certs, target: '/out', readOnly: false }],
        args: ['certs', '--service', 'podpattern', '--namespace', 'podpattern', '--out-dir', '/out'],
      });
      t.equal(made.status, 0, made.stderr);
      t.match(made.stdout.trim(), /^[A-Za-z0-9+/]+=*$/, 'the caBundle, base64');
      const ca = readFileSync(join(certs, 'ca.crt'), 'utf8');

      // The chart's Deployment, rendered with its defaults: its args, its environment, the
      // certificate Secret at its mount path and the ports it declares.
      const chart = chartContainer();
      const server = startContainer({
        ...baseSpec(),
        netns: net.name,
        volumes: [{ source: certs, target: chart.mountPath('tls'), readOnly: true }],
        args: chart.args,
        // Hermetic: the sandbox reaches no cluster; the live catalog would only log that it cannot.
        env: { ...chart.env, PODPATTERN_LIVE_CATALOG: 'off' },
      });
      let stderr = '';
      server.stderr?.on('data', (chunk) => (stderr += String(chunk)));
      const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
      t.teardown(async () => {
        server.kill('SIGTERM');
        await exited;
      });
      const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const lines: string[] = [];
        createInterface({ input: server.stdout ?? process.stdin }).on('line', (text) => {
          lines.push(text);
          try {
            const line = JSON.parse(text) as Record<string, unknown>;
            if (line.msg === 'podpattern serving') resolve(line);
          } catch {
            /* not a log line */
          }
        });
        void exited.then((code) => reject(new Error(`the server exited ${code}:\n${lines.join('\n')}\n${stderr}`)));
      });
      t.match(serving, { port: chart.port('https'), healthPort: chart.port('http-health') });
      t.equal(serving.memoryTrim, 'every 1 s', "the image's addon loads: the C heap is trimmed every second");

      t.equal(await readyz(net.podIp, chart.port('http-health')), 200, '/readyz on the health port, from outside the pod');

      const review = httpsProxyReview('image-test');
      const answer = await httpsCall({
        host: net.podIp,
        port: chart.port('https'),
        ca,
        servername: 'podpattern.podpattern.svc',
        body: JSON.stringify(review),
      });
      t.equal(answer.status, 200, 'the review is answered');
      const response = (JSON.parse(answer.body) as { response: { uid: string; allowed: boolean; patchType?: string; patch?: string } })
        .response;
      t.match(response, { uid: 'image-test', allowed: true, patchType: 'JSONPatch' });
      const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8')) as Operation[];
      const pod = jsonpatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument as {
        spec: { containers: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] };
      };
      // Without a cluster the server assumes the chart's oldest Kubernetes, which has native sidecars:
      // https-proxy starts before the app, as an init container that keeps running.
      t.ok(
        pod.spec.initContainers?.some((c) => c.name === 'https-proxy' && c.restartPolicy === 'Always'),
        'the patched pod has the https-proxy native sidecar',
      );
      t.equal(pod.spec.containers[0]?.name, 'app', 'the app container stays first');

      // Who the server is, to the host's kernel.
      const node = descendants(server.pid ?? -1)
        .map((pid) => ({ pid, argv: commandLine(pid), status: processCredentials(pid) }))
        .find((p) => p.argv.includes('dist/src/bin/podpattern.js'));
      t.ok(node, 'the server process is found');
      t.match(node?.status, {
        Uid: /^65532\t65532\t65532\t65532$/,
        Gid: /^65532\t65532\t65532\t65532$/,
        Groups: '',
        CapEff: '0000000000000000',
        CapPrm: '0000000000000000',
        CapAmb: '0000000000000000',
        CapBnd: '0000000000000000',
        NoNewPrivs: '1',
      });
    },
  );
}

interface ChartContainer {
  args: string[];
  env: Record<string, string>;
  mountPath: (volume: string) => string;
  port: (name: string) => number;
}

/** podpattern's container in the chart's Deployment, rendered with the default values. */
function chartContainer(): ChartContainer {
  const render = renderChart();
  if (render.status !== 0) throw new Error(`helm template failed: ${render.stderr}`);
  const spec = find(render.objects, 'Deployment').spec.template.spec as { containers: V1Container[] };
  const container = spec.containers.find((c) => c.name === 'podpattern');
  if (!container) throw new Error("the chart's Deployment has no podpattern container");
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the chart's podpattern container has no ${what}`);
    return value;
  };
  return {
    args: container.args ?? [],
    env,
    mountPath: (volume) => required(container.volumeMounts?.find((m) => m.name === volume)?.mountPath, `mount of volume ${volume}`),
    port: (name) => required(container.ports?.find((p) => p.name === name)?.containerPort, `port ${name}`),
  };
}

/** The packages under `dir`/node_modules, as the lockfile names them (node_modules/a/node_modules/b). */
function installedPackages(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  const modules = join(dir, prefix, 'node_modules');
  for (const entry of readdirSync(modules, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || !entry.isDirectory()) continue;
    const names = entry.name.startsWith('@') ? readdirSync(join(modules, entry.name)).map((n) => `${entry.name}/${n}`) : [entry.name];
    for (const name of names) {
      const path = `${prefix ? `${prefix}/` : ''}node_modules/${name}`;
      found.push(path);
      if (lstatSync(join(dir, path, 'node_modules'), { throwIfNoEntry: false })?.isDirectory()) found.push(...installedPackages(dir, path));
    }
  }
  return found;
}

/** Bytes of the regular files under `root`, each hard-linked file once. */
function treeBytes(root: string): number {
  const seen = new Set<string>();
  let total = 0;
  for (const rel of walk(root)) {
    const stat = lstatSync(join(root, rel));
    if (!stat.isFile() || seen.has(`${stat.dev}:${stat.ino}`)) continue;
    seen.add(`${stat.dev}:${stat.ino}`);
    total += stat.size;
  }
  return total;
}

/** The size of a layer's tar stream, uncompressed. */
async function layerTarBytes(archive: string, layer: { digest: string; mediaType: string }): Promise<number> {
  const member = `blobs/${layer.digest.replace(':', '/')}`;
  const tar = spawn('tar', ['-xOf', archive, member], { stdio: ['ignore', 'pipe', 'inherit'] });
  let bytes = 0;
  const counter = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      bytes += chunk.length;
      done();
    },
  });
  if (/gzip$/.test(layer.mediaType)) await pipeline(tar.stdout, createGunzip(), counter);
  else await pipeline(tar.stdout, counter);
  return bytes;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Files and symlinks under `root`, relative to it. */
function walk(root: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(rel, ...walk(root, rel));
    else found.push(rel);
  }
  return found;
}

function readyz(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet({ host, port, path: '/readyz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}
