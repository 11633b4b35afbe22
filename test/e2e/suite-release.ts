// The release the suite installs, checked as a user would check it before installing: the
// image's signature verifies with the release key, and only for the released digest; a chart
// whose image digest is not in the registry fails to install, and says which digest.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Test } from 'tap';
import { run } from './cluster.js';
import type { Cluster } from './harness.js';
import { RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import { describe, outcome, type Json } from './pods.js';
import { IMAGE_NAME, makeSigner, publishChart, verify } from './release.js';
import { envArgs, sandboxArgs } from '../podrunner/sandbox.js';
import type { Context } from './suite.js';

/** `node --version` run in the released image, as pulled by the node. */
export async function imageNodeVersion(cluster: Cluster): Promise<string> {
  const image = await cluster.images.pull(cluster.release.image);
  // The way the node agent starts a container: the image's root, user and environment only.
  const sandbox = sandboxArgs({
    rootfs: image.rootfs,
    mounts: [],
    readOnlyRoot: true,
    workingDir: image.workingDir,
    uid: image.uid,
    gid: image.gid,
    groups: [],
  });
  const argv = [...sandbox, ...envArgs(image.env, image.rootfs), 'node', '--version'];
  const result = await run(argv[0] as string, argv.slice(1));
  if (result.code !== 0) throw new Error(`node --version in ${image.id}: ${describe(result)}`);
  return result.stdout.trim();
}

export async function releaseTests(t: Test, ctx: Context): Promise<void> {
  const { cluster } = ctx;
  const { release, tools, signer, registry, dir } = cluster;
  await t.test(
    'the release is signed: cosign verify --key passes for the released image and chart, not for another digest or key',
    async (t) => {
      const image = await verify(tools, signer.publicKey, release.image, dir);
      t.equal(image.code, 0, outcome(image, `the image ${release.image} verifies`));
      const chart = await verify(tools, signer.publicKey, `${registry}/charts/podpattern@${release.chartDigest}`, dir);
      t.equal(chart.code, 0, outcome(chart, 'and so does the chart'));

      // The same image with one label changed: another digest, which nobody signed.
      const tampered = await run(tools.crane, [
        'mutate',
        release.image,
        '--label',
        'tampered=yes',
        '--tag',
        `${registry}/${IMAGE_NAME}:tampered`,
      ]);
      t.equal(tampered.code, 0, outcome(tampered, 'crane mutate pushes a changed copy'));
      const changed = tampered.stdout.trim();
      t.not(changed, release.image, `the copy has its own digest (${changed})`);
      const unsigned = await verify(tools, signer.publicKey, changed, dir);
      t.not(unsigned.code, 0, 'cosign verify refuses the changed copy');
      t.match(unsigned.stderr, /no signatures found|no matching signatures/, `refused: ${unsigned.stderr.trim().split('\n').at(-1) ?? ''}`);

      const other = await makeSigner(tools.cosign, join(dir, 'another-key'));
      const wrongKey = await verify(tools, other.publicKey, release.image, dir);
      t.not(wrongKey.code, 0, 'cosign verify refuses the released image under another key');
      t.match(
        wrongKey.stderr,
        /no matching (signatures|attestations)|signatures do not match/,
        `refused: ${wrongKey.stderr.trim().split('\n').at(-1) ?? ''}`,
      );
    },
  );
}

/**
 * A chart stamped with a digest the registry lacks: `helm install --wait` fails, and the pods
 * say why the way a kubelet says it (ErrImagePull, then ImagePullBackOff, with the registry's
 * message naming the digest). Runs before the real install; uninstalled after.
 */
export async function missingImageTest(t: Test, ctx: Context): Promise<void> {
  const { kube, cluster } = ctx;
  await t.test('a chart whose image digest is not in the registry fails helm install, naming the digest', async (t) => {
    const digest = `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}`;
    const version = `${cluster.release.version}-missing-image`;
    const chart = await publishChart({
      tools: cluster.tools,
      registry: cluster.registry,
      version,
      digest,
      dir: join(cluster.dir, 'release-missing-image'),
    });
    const installed = await kube.helm([
      'install',
      RELEASE,
      chart.chart,
      '--version',
      version,
      '--plain-http',
      '--namespace',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '--wait',
      '--timeout',
      '60s',
    ]);
    t.not(installed.code, 0, `helm install --wait fails: ${`${installed.stdout}\n${installed.stderr}`.trim().split('\n').at(-1)}`);
    const waiting = await eventually(
      'a podpattern pod waiting for its image',
      async () => {
        const pods = await kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern');
        return pods.map((p) => p.status?.containerStatuses?.[0]?.state?.waiting as Json | undefined).find((w) => w?.message !== undefined);
      },
      120_000,
    );
    t.match(waiting.reason, /^(ErrImagePull|ImagePullBackOff)$/, `the container waits: ${waiting.reason}`);
    t.match(waiting.message, digest, `its message names the digest: ${waiting.message}`);
    t.match(waiting.message, /manifest unknown|MANIFEST_UNKNOWN|not found/i, "and carries the registry's answer");
    const uninstalled = await kube.helm(['uninstall', RELEASE, '--namespace', RELEASE_NAMESPACE, '--wait', '--timeout', '3m']);
    t.equal(uninstalled.code, 0, outcome(uninstalled, 'the failed release uninstalls'));
    await eventually(
      "the failed release's pods to go",
      async () => ((await kube.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern')).length === 0 ? true : undefined),
      120_000,
    );
  });
}
