// A staged template change on a real control plane: a cluster template with spec.rollout.canary
// and three enabled namespaces, one labelled as its canary. After its spec changes, pods created
// in the canary namespace record the new hash and run the new container, pods in the other two
// the promoted revision's; `podpattern check` and `podpattern status` say which namespace gets
// which; after `podpattern rollout promote` pods in every namespace get the new hash. Both
// replicas serve reviews and each follows the revisions with its own watch: server-side dry runs
// are repeated until both answer alike, then real pods are created and checked.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, podManifest, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';

const NAME = 'canary-proxy';
const STAGE = 'e2e.podpattern.dev/stage';

function proxy(image: string): Json {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: NAME },
    spec: {
      pattern: 'sidecar',
      description: 'Terminates TLS in front of the app (the canary tests).',
      containers: [{ name: NAME, image, ports: [{ containerPort: 8443 }] }],
      // A week's soak: nothing but `rollout promote` promotes it during the test.
      rollout: { canary: { namespaceSelector: { matchLabels: { [STAGE]: 'canary' } }, soakSeconds: 604_800 } },
    },
  };
}

interface Injected {
  hash: string;
  image: string;
}

/** What a pod created in `namespace` is injected with (a server-side dry run unless `real`): the hash its status records, the image of the template's container. */
async function injectedIn(ctx: Context, namespace: string, real = false): Promise<Injected> {
  const created = await ctx.kube.create(
    podManifest(ctx.kube.unique('canary-pod'), namespace, { 'podpattern.dev/sidecar': NAME }),
    real ? [] : ['--dry-run=server'],
  );
  if (created.code !== 0 || created.object === undefined) throw new Error(`the pod was not admitted: ${outcome(created)}`);
  const pod = created.object;
  const status = JSON.parse(pod.metadata?.annotations?.['podpattern.dev/status'] ?? '{"templates":[]}') as {
    templates: Array<{ name: string; hash: string }>;
  };
  const container = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: Json) => c.name === NAME);
  return { hash: status.templates.find((t) => t.name === NAME)?.hash ?? '', image: container?.image ?? '' };
}

/** Waits until dry runs in every namespace (four each: either replica may answer) get what `expected` says, then checks one real pod in each. */
async function settle(t: Test, ctx: Context, what: string, expected: Record<string, Injected>): Promise<void> {
  await eventually(
    what,
    async () => {
      for (const [namespace, wanted] of Object.entries(expected)) {
        const seen = await Promise.all([0, 1, 2, 3].map(() => injectedIn(ctx, namespace)));
        if (!seen.every((got) => got.hash === wanted.hash && got.image === wanted.image)) return undefined;
      }
      return true;
    },
    120_000,
  );
  for (const [namespace, wanted] of Object.entries(expected))
    t.same(await injectedIn(ctx, namespace, true), wanted, `${what}: a pod created in ${namespace}`);
}

/** The hash of the newest revision `templates history` lists, once it lists `count`. */
async function newestHash(ctx: Context, count: number): Promise<string> {
  const listed = await eventually(
    `${count} revision(s) of ${NAME} in templates history`,
    async () => {
      const result = await podpattern(ctx, ['templates', 'history', NAME]);
      return result.code === 0 && result.stdout.trim().split('\n').length === count + 1 ? result.stdout : undefined;
    },
    60_000,
  );
  return /^\d+\s+([0-9a-f]{16})\s/m.exec(listed.split('\n')[1] ?? '')?.[1] ?? '';
}

function podFile(namespace: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'podpattern-canary-')), 'pod.json');
  writeFileSync(path, JSON.stringify(podManifest('web', namespace, { 'podpattern.dev/sidecar': NAME })));
  return path;
}

export async function canaryTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const canary = await kube.namespace('enabled', { labels: { [STAGE]: 'canary' } });
  const [east, west] = [await kube.namespace('enabled'), await kube.namespace('enabled')] as [string, string];
  const apply = (object: Json) => kube.kubectl(['apply', '-f', '-'], JSON.stringify(object));

  await t.test('a changed spec reaches only the canary namespace until it is promoted; then every namespace', async (t) => {
    t.teardown(() => kube.kubectl(['delete', 'patterntemplates.podpattern.dev', NAME, '--ignore-not-found']));
    const first = await apply(proxy('registry.example/proxy:1'));
    t.equal(first.code, 0, outcome(first));
    const old = { hash: await newestHash(ctx, 1), image: 'registry.example/proxy:1' };
    t.match(old.hash, /^[0-9a-f]{16}$/, 'the first spec is kept as revision 1');
    const labelled = await kube.json(['get', 'controllerrevisions', '-n', 'podpattern', '-l', 'podpattern.dev/promoted=true']);
    t.ok(
      (labelled.items as Json[]).some((r) => r.metadata.name === `${NAME}-${old.hash}`),
      'and labelled promoted',
    );
    await settle(t, ctx, 'every namespace gets the first spec', { [canary]: old, [east]: old, [west]: old });

    const changed = await apply(proxy('registry.example/proxy:2'));
    t.equal(changed.code, 0, outcome(changed));
    const next = { hash: await newestHash(ctx, 2), image: 'registry.example/proxy:2' };
    t.not(next.hash, old.hash, 'the change is revision 2');
    await settle(t, ctx, 'the canary namespace gets the new spec, the others the promoted revision', {
      [canary]: next,
      [east]: old,
      [west]: old,
    });

    const checked = await podpattern(ctx, ['check', '-n', east, '-f', podFile(east)]);
    t.match(
      checked.stdout,
      new RegExp(
        `${NAME} is in canary and ${east} is not one of its canary namespaces: the pod gets the promoted revision 1 \\(${old.hash}\\)`,
      ),
      `check explains it: ${checked.stdout}`,
    );
    const inCanary = await podpattern(ctx, ['check', '-n', canary, '-f', podFile(canary)]);
    t.match(inCanary.stdout, new RegExp(`${canary} is one of its canary namespaces`), `and for the canary namespace: ${inCanary.stdout}`);
    const status = await podpattern(ctx, ['status', '-A']);
    t.match(
      status.stdout,
      new RegExp(
        `^canary: ${NAME} ${next.hash} is served in ${canary}; every other namespace gets the promoted revision 1 \\(${old.hash}\\)`,
        'm',
      ),
      `status says which namespace gets which: ${status.stdout}${status.stderr}`,
    );

    const promoted = await podpattern(ctx, ['rollout', 'promote', NAME]);
    t.equal(promoted.code, 0, `${promoted.stdout}${promoted.stderr}`);
    t.match(promoted.stdout, `promoted revision 2 (${next.hash}) of ${NAME}`);
    await settle(t, ctx, 'after promote every namespace gets the new spec', { [canary]: next, [east]: next, [west]: next });
    const again = await podpattern(ctx, ['rollout', 'promote', NAME]);
    t.equal(again.code, 1, 'promoting it again is refused');
    t.match(again.stderr, 'is already promoted');
  });
}
