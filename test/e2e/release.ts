// The release workflow's steps (.github/workflows/release.yaml), rehearsed against the run's
// registry on loopback (registry.ts): the image pushed from its OCI archive, signed with cosign
// and the signature verified; the chart stamped with the pushed digest by
// scripts/chart-release.mjs, linted, packaged, pushed as an OCI artifact and signed. What
// differs from the workflow, and why:
// - cosign signs with a key pair made for the run, not keyless: keyless signing needs Sigstore's
//   public services (Fulcio, Rekor), which a test must not depend on; so there is no
//   transparency-log upload either, and verification checks the key instead of the identity.
// - the registry speaks plain HTTP on 127.0.0.1 (crane treats loopback as insecure by itself;
//   helm and cosign are told so with --plain-http and --allow-http-registry).
// crane pushes the image: it reads the OCI layout buildah wrote (the archive, unpacked) and
// uploads the manifest byte for byte, so the registry's digest is the build's digest (checked).
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, tail, type RunResult } from './cluster.js';

export interface Tools {
  helm: string;
  cosign: string;
  crane: string;
}

/** An image build: an OCI archive and its manifest's digest. */
export interface BuiltImage {
  archive: string;
  digest: string;
}

export interface Signer {
  privateKey: string;
  publicKey: string;
}

export interface Release {
  version: string;
  /** `127.0.0.1:PORT/podpattern@sha256:…`: what the chart's pods run. */
  image: string;
  digest: string;
  /** `oci://127.0.0.1:PORT/charts/podpattern`; install it with `--version <version>`. */
  chart: string;
  chartDigest: string;
}

export const IMAGE_NAME = 'podpattern';
const REPO_ROOT = new URL('../..', import.meta.url).pathname;

/** cosign reads the key's password from here; the run's key has none. */
const cosignEnv = (dir: string): Record<string, string> => ({ COSIGN_PASSWORD: '', TUF_ROOT: join(dir, 'sigstore-tuf'), HOME: dir });

async function must(
  what: string,
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<RunResult> {
  const result = await run(command, args, { ...options, timeoutMs: 600_000 });
  if (result.code !== 0)
    throw new Error(
      `release rehearsal: ${what} failed (${command} ${args.join(' ')}, exit ${result.code}):\n${tail(`${result.stdout}\n${result.stderr}`, 30)}`,
    );
  return result;
}

/** A cosign key pair for the run (`cosign generate-key-pair`), with an empty password. */
export async function makeSigner(cosign: string, dir: string): Promise<Signer> {
  mkdirSync(dir, { recursive: true });
  await must('cosign generate-key-pair', cosign, ['generate-key-pair', '--output-key-prefix', join(dir, 'cosign')], {
    env: cosignEnv(dir),
    cwd: dir,
  });
  return { privateKey: join(dir, 'cosign.key'), publicKey: join(dir, 'cosign.pub') };
}

/** The digest of the one image an OCI archive holds (its index.json's only manifest). */
export async function archiveDigest(archive: string): Promise<string> {
  const index = JSON.parse((await must('reading the OCI archive', 'tar', ['-xOf', archive, 'index.json'])).stdout) as {
    manifests?: Array<{ digest?: string }>;
  };
  const digest = index.manifests?.length === 1 ? index.manifests[0]?.digest : undefined;
  if (digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest))
    throw new Error(`${archive}: index.json names ${index.manifests?.length ?? 0} manifests; one image expected`);
  return digest;
}

/** `cosign sign --key` of `reference` (by digest), without a transparency-log upload. */
export async function sign(tools: Tools, signer: Signer, reference: string, dir: string): Promise<void> {
  await must(
    `cosign sign ${reference}`,
    tools.cosign,
    ['sign', '--key', signer.privateKey, '--use-signing-config=false', '--tlog-upload=false', '--allow-http-registry', '--yes', reference],
    { env: cosignEnv(dir) },
  );
}

/** `cosign verify --key` of `reference`; the result, for the caller to judge. */
export function verify(tools: Tools, publicKey: string, reference: string, dir: string): Promise<RunResult> {
  return run(tools.cosign, ['verify', '--key', publicKey, '--insecure-ignore-tlog=true', '--allow-http-registry', reference], {
    env: cosignEnv(dir),
    timeoutMs: 300_000,
  });
}

/**
 * Publishes `image` as release `version` to `registry` (host:port), the workflow's jobs in
 * order: push, sign and verify the image; stamp, lint, package, push and sign the chart. `dir`
 * gets this release's files; `log` hears one line per step.
 */
export async function publishRelease(options: {
  tools: Tools;
  registry: string;
  signer: Signer;
  image: BuiltImage;
  version: string;
  dir: string;
  log: (line: string) => void;
}): Promise<Release> {
  const { tools, registry, signer, image, version, log } = options;
  const dir = join(options.dir, `release-${version}`);
  mkdirSync(dir, { recursive: true });

  // The image job: push by tag, then everything else by the digest the push returned.
  const layout = join(dir, 'oci-layout');
  mkdirSync(layout, { recursive: true });
  await must('unpacking the OCI archive', 'tar', ['-xf', image.archive, '-C', layout]);
  const pushed = await must('crane push', tools.crane, ['push', layout, `${registry}/${IMAGE_NAME}:${version}`]);
  const reference = pushed.stdout.trim();
  if (reference !== `${registry}/${IMAGE_NAME}@${image.digest}`)
    throw new Error(`release rehearsal: crane push answered ${reference}, not the build's digest ${image.digest}`);
  log(`pushed ${reference}`);
  await sign(tools, signer, reference, dir);
  const verified = await verify(tools, signer.publicKey, reference, dir);
  if (verified.code !== 0) throw new Error(`release rehearsal: the image's signature does not verify:\n${tail(verified.stderr, 20)}`);
  log(`signed ${reference} (cosign, the run's key) and verified`);

  const chart = await publishChart({ tools, registry, version, digest: image.digest, dir });
  await sign(tools, signer, `${registry}/charts/podpattern@${chart.chartDigest}`, dir);
  log(`chart ${chart.chart}:${version} (${chart.chartDigest}), signed; its image ${reference}`);
  return { version, image: reference, digest: image.digest, ...chart };
}

/**
 * The chart job: a copy of the checkout's chart (which stays as it is) stamped with `version`
 * and the image `digest` in `registry`, linted, packaged and pushed to oci://`registry`/charts.
 */
export async function publishChart(options: {
  tools: Tools;
  registry: string;
  version: string;
  digest: string;
  dir: string;
}): Promise<Pick<Release, 'chart' | 'chartDigest'>> {
  const { tools, registry, version, digest, dir } = options;
  const chartDir = join(dir, 'chart', 'podpattern');
  cpSync(join(REPO_ROOT, 'helm', 'podpattern'), chartDir, { recursive: true });
  await must('scripts/chart-release.mjs', process.execPath, [
    join(REPO_ROOT, 'scripts', 'chart-release.mjs'),
    version,
    digest,
    chartDir,
    '--repository',
    `${registry}/${IMAGE_NAME}`,
  ]);
  await must('helm lint', tools.helm, ['lint', chartDir]);
  const packaged = join(dir, 'package');
  await must('helm package', tools.helm, ['package', chartDir, '--destination', packaged]);
  const charts = `oci://${registry}/charts`;
  const push = await must('helm push', tools.helm, ['push', join(packaged, `podpattern-${version}.tgz`), charts, '--plain-http'], {
    env: { HELM_CONFIG_HOME: join(dir, 'helm-config'), HELM_CACHE_HOME: join(dir, 'helm-cache') },
  });
  // helm push prints `Digest: sha256:…`, as the workflow reads it.
  const chartDigest = /^Digest: (sha256:[a-f0-9]{64})$/m.exec(`${push.stdout}\n${push.stderr}`)?.[1];
  if (chartDigest === undefined) throw new Error(`release rehearsal: helm push printed no digest:\n${push.stdout}${push.stderr}`);
  return { chart: `${charts}/podpattern`, chartDigest };
}

/** The version after `version`: its patch number plus one (0.1.0 -> 0.1.1). */
export function nextPatch(version: string): string {
  const [major, minor, patch] = version.split('-')[0]?.split('.').map(Number) ?? [];
  if (major === undefined || minor === undefined || patch === undefined) throw new Error(`not a version: ${version}`);
  return `${major}.${minor}.${patch + 1}`;
}

export const packageVersion = (): string =>
  (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
