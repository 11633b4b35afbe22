// End-to-end for the live catalog (issue 6): the real server follows PatternTemplate objects
// and namespace defaults in a real kube-apiserver, running as the chart's service account with
// exactly the RBAC of webhook-config/rbac.yaml, and survives an API server restart.
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { adaptChartFor120, parseManifests } from './chart.js';
import { writeKubeconfig } from './cluster.js';
import { REPO_ROOT, startCluster } from './harness.js';
import { makeServiceAccountClient } from './pki.js';
import { describe, namespaceManifest, parseYaml, podManifest, type Json } from './pods.js';

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const kubectl = cluster.kubectl;

async function must(args: string[], input?: string): Promise<string> {
  const result = await kubectl(args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${describe(result)}`);
  return result.stdout;
}

// The CRD (1.20 drops its CEL rules, see chart.ts) and the server's own RBAC, as installed.
const crd = adaptChartFor120(parseManifests(readFileSync(join(REPO_ROOT, 'webhook-config', 'crd.yaml'), 'utf8'))).objects;
await must(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: crd }));
await must(['wait', '--for=condition=Established', '--timeout=60s', 'crd/patterntemplates.podpattern.dev']);
await must(['apply', '-f', join(REPO_ROOT, 'webhook-config', 'namespace.yaml')]);
await must(['apply', '-f', join(REPO_ROOT, 'webhook-config', 'rbac.yaml')]);

const identityDir = join(cluster.dir, 'podpattern-identity');
mkdirSync(identityDir, { recursive: true });
const client = makeServiceAccountClient(identityDir, cluster.pki.ca, 'podpattern', 'podpattern');
const serverKubeconfig = join(identityDir, 'kubeconfig');
writeKubeconfig(serverKubeconfig, cluster.apiserverUrl, cluster.pki, client);
const { webhook } = await cluster.startWebhook({ PODPATTERN_LIVE_CATALOG: 'auto', PODPATTERN_KUBECONFIG: serverKubeconfig });

await must(['create', '-f', '-'], JSON.stringify(namespaceManifest('live', 'enabled')));

let podCount = 0;
/** Creates a pod asking for `annotations`; resolves with the stored pod or kubectl's failure. */
async function createPod(annotations: Record<string, string>, namespace = 'live'): Promise<{ pod?: Json; stderr: string; code: number }> {
  podCount += 1;
  const name = `p-${podCount}`;
  const created = await kubectl(['create', '-f', '-'], JSON.stringify(podManifest(name, namespace, annotations)));
  if (created.code !== 0) return { stderr: created.stderr, code: created.code };
  return { pod: parseYaml(await must(['get', 'pod', name, '-n', namespace, '-o', 'yaml'])), stderr: created.stderr, code: 0 };
}

/** Polls until `check` passes: catalog changes reach the server through a watch and a debounce. */
async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- podpattern log (tail) ---\n${webhook.logs().split('\n').slice(-30).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function template(image: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'ops-echo' },
    spec: { pattern: 'adapter', description: 'An operator-defined adapter.', containers: [{ name: 'ops-echo', image, ...extra }] },
  });
}

const ASK = { 'podpattern.dev/adapter': 'ops-echo' };
const imageOf = (pod: Json | undefined): string | undefined => pod?.spec?.containers?.find((c: Json) => c.name === 'ops-echo')?.image;

async function readyCondition(): Promise<Json | undefined> {
  const object = parseYaml(await must(['get', 'patterntemplates.podpattern.dev', 'ops-echo', '-o', 'yaml']));
  return object.status?.conditions?.find((c: Json) => c.type === 'Ready');
}

t.test('a new PatternTemplate is injected within seconds and marked Ready', async (t) => {
  const started = Date.now();
  await must(['apply', '-f', '-'], template('example.org/echo:1'));
  const pod = await eventually('the template to be injectable', async () => {
    const created = await createPod(ASK);
    return created.code === 0 ? created.pod : undefined;
  });
  t.equal(imageOf(pod), 'example.org/echo:1');
  t.comment(`visible after ${Date.now() - started} ms`);
  const condition = await eventually('Ready=True', async () => ((await readyCondition())?.status === 'True' ? readyCondition() : undefined));
  t.match(condition, { status: 'True', reason: 'Valid' });
});

t.test('an update reaches the next pod within seconds', async (t) => {
  await must(['apply', '-f', '-'], template('example.org/echo:2'));
  const pod = await eventually('image :2', async () => {
    const created = await createPod(ASK);
    return imageOf(created.pod) === 'example.org/echo:2' ? created.pod : undefined;
  });
  t.ok(pod);
});

t.test('a broken update keeps the last good version, sets Ready=False and warns pods', async (t) => {
  // Valid for the CRD's schema, refused by podpattern: args name an undeclared parameter.
  await must(['apply', '-f', '-'], template('example.org/echo:3', { args: ['$(params.nope)'] }));
  const condition = await eventually('Ready=False', async () => {
    const c = await readyCondition();
    return c?.status === 'False' ? c : undefined;
  });
  t.match(condition, { reason: 'InvalidTemplate', message: /\$\(params\.nope\) names an undeclared parameter/ });
  const created = await createPod(ASK);
  t.equal(created.code, 0, 'pods asking for it are still admitted');
  t.equal(imageOf(created.pod), 'example.org/echo:2', 'with the last good version');
  t.match(created.stderr, /Warning: .*ops-echo \(cluster\) is invalid; the last good one is used/, 'and kubectl shows the warning');
  t.match(webhook.logs(), /PatternTemplate is invalid; its last good version stays in force/, 'the server logs it');
  const metrics = await (await fetch(`http://127.0.0.1:${webhook.healthPort}/metrics`)).text();
  t.match(metrics, /source="cluster"/, 'and counts it');
});

t.test('a deleted template is no longer injected', async (t) => {
  await must(['delete', 'patterntemplates.podpattern.dev', 'ops-echo']);
  const refused = await eventually('the denial', async () => {
    const created = await createPod(ASK);
    return created.code !== 0 ? created : undefined;
  });
  t.match(refused.stderr, /no template named 'ops-echo'/);
});

t.test('namespace defaults apply to pods that name no template', async (t) => {
  const namespace = namespaceManifest('defaults', 'enabled');
  namespace.metadata.annotations = { 'podpattern.dev/adapter': 'redis-exporter', 'redis-exporter.podpattern.dev/redis-port': '6380' };
  await must(['create', '-f', '-'], JSON.stringify(namespace));
  const pod = await eventually('the namespace default', async () => {
    const created = await createPod({}, 'defaults');
    return created.pod?.spec?.containers?.some((c: Json) => c.name === 'redis-exporter') ? created.pod : undefined;
  });
  t.match(pod?.metadata?.annotations?.['podpattern.dev/status'], /redis-exporter/);
  const own = await createPod({ 'podpattern.dev/inject': 'false' }, 'defaults');
  t.notOk(own.pod?.spec?.containers?.some((c: Json) => c.name === 'redis-exporter'), 'a pod can still opt out');
});

t.test("a ReplicaSet's identical reviews are answered from the replay cache, and a namespace change is seen", async (t) => {
  // Pods made from one template with a generateName reach the webhook as the same review but
  // for its uid (admission runs before the name is generated), as from a ReplicaSet; but the
  // review also carries managedFields, whose time has a resolution of one second, so only pods
  // created within the same second send the same text.
  const namespace = namespaceManifest('replay', 'enabled');
  namespace.metadata.annotations = { 'podpattern.dev/adapter': 'redis-exporter' };
  await must(['create', '-f', '-'], JSON.stringify(namespace));
  const replica = podManifest('unused', 'replay');
  delete replica.metadata.name;
  replica.metadata.generateName = 'rs-';
  const createReplica = async (): Promise<Json> => parseYaml(await must(['create', '-f', '-', '-o', 'yaml', '--show-managed-fields'], JSON.stringify(replica)));
  const exported = (pod: Json): boolean => pod.spec.containers.some((c: Json) => c.name === 'redis-exporter');
  const second = (pod: Json): string => pod.metadata.managedFields?.[0]?.time;
  const replayedLines = (): number => webhook.logs().split('\n').filter((line) => line.includes('"namespace":"replay"') && line.includes('"replayed":true')).length;

  const first = await eventually('the namespace default', async () => {
    const pod = await createReplica();
    return exported(pod) ? pod : undefined;
  });
  const before = replayedLines();
  const replicas: Json[] = [];
  for (let i = 0; i < 4; i += 1) replicas.push(await createReplica());
  t.ok(replicas.every(exported), 'every replica is injected');
  t.equal(new Set(replicas.map((pod) => pod.metadata.name)).size, 4, 'four pods');
  // A replica's review is answered from memory when an earlier one was created in the same second.
  const expected = replicas.filter((pod, i) => [first, ...replicas.slice(0, i)].some((earlier) => second(earlier) === second(pod))).length;
  t.ok(expected >= 1, `four creations within ~1 s share a second (${expected})`);
  // Log lines are written in batches of a few milliseconds: wait for them.
  const replayed = await eventually('the replayed reviews in the log', async () => (replayedLines() - before >= expected ? replayedLines() - before : undefined), 5000).catch(() => replayedLines() - before);
  t.equal(replayed, expected, `the API server's reviews were answered from memory (${replayed} replayed)`);

  await must(['annotate', 'namespace', 'replay', 'podpattern.dev/adapter-']);
  const after = await eventually('the namespace change', async () => {
    const pod = await createReplica();
    return exported(pod) ? undefined : pod;
  });
  t.notOk(exported(after), 'once the namespace default is gone, the same review is decided again');
});

t.test('the catalog recovers after the API server restarts', async (t) => {
  await cluster.restartApiserver();
  await must(['apply', '-f', '-'], template('example.org/echo:after-restart'));
  const pod = await eventually(
    'the post-restart template',
    async () => {
      const created = await createPod(ASK);
      return imageOf(created.pod) === 'example.org/echo:after-restart' ? created.pod : undefined;
    },
    60_000,
  );
  t.ok(pod, 'a template created after the restart is injected');
  const ready = await (await fetch(`http://127.0.0.1:${webhook.healthPort}/readyz`)).status;
  t.equal(ready, 200, 'and the server is ready again');
});
