// Webhook-less mode on a real API server: the built-in templates compiled by `podpattern
// policy` into MutatingAdmissionPolicy and ValidatingAdmissionPolicy objects, applied, and every
// pod stored through them compared with the same pod stored through the webhook; denials
// compared message by message. Runs only where the API server serves
// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { measureAdmission } from '../../bench/admission-latency.js';
import { REPO_ROOT } from './harness.js';
import { eventually } from './kube.js';
import { outcome, podManifest, requestAnnotations, type Json } from './pods.js';
import type { Context } from './suite.js';

/**
 * Golden cases the webhook re-injects because what the pod carries is not exactly what the
 * template renders (a changed tag, command, args, securityContext or file): the policies cannot
 * replace what is there, so they refuse such a pod, saying why (docs/policy.md).
 */
const NOT_AS_RENDERED = new Map([
  ['registry-mirror-other-tag', "a pod whose injected image differs from the template's by tag"],
  ['reinject-covering-copy', "a pod whose injected container differs from the template's in command, capabilities or files"],
]);

/** The label that selects the policy namespace; the webhook never serves it (no injection label). */
const POLICY_LABEL = 'podpattern-e2e/admission';

/**
 * What may differ between the two stored pods, by design: names the API server makes up
 * (the service-account token volume), the namespace itself (and text rendered from
 * $(pod.namespace)), and bookkeeping (uid, resourceVersion, timestamps, managedFields).
 * Nothing of podpattern's: the policies write the same podpattern.dev/status as the webhook.
 */
export const INTENDED_DIFFERENCES = [
  'metadata.uid',
  'metadata.resourceVersion',
  'metadata.creationTimestamp',
  'metadata.managedFields',
  'metadata.generation',
  'metadata.namespace and $(pod.namespace) text',
  'kube-api-access-* token volume name',
  'status',
];

export function comparable(pod: Json, namespace: string): Json {
  const copy = structuredClone<Json>(pod);
  delete copy.status;
  for (const key of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation', 'namespace']) delete copy.metadata[key];
  const text = JSON.stringify(copy)
    .replace(/kube-api-access-[a-z0-9]{5}/g, 'kube-api-access-*')
    .split(namespace)
    .join('$NAMESPACE');
  return JSON.parse(text) as Json;
}

/**
 * The message after the API server's prefix (webhook: "denied the request: ", policy: "denied
 * request: "), whitespace runs as one space. Intended difference: a policy's message is one line
 * (the API server refuses line breaks there), so the webhook's "\n- " between problems reads " - ".
 */
export function denial(stderr: string): string {
  const match = /denied (?:the )?request: ([\s\S]*)$/.exec(stderr.trim());
  if (match !== null) return (match[1] as string).replace(/\s+/g, ' ');
  // Not an admission denial (the API server's own validation): its "* field: reason" items come
  // in Go map order, which varies between two requests, so they are compared sorted.
  const [head, ...items] = stderr.trim().replace(/\s+/g, ' ').split(' * ');
  return `(no denial in: ${[head, ...items.sort()].join(' * ')})`;
}

/**
 * Denials the policies give in other words, by design (docs/policy.md): no "did you mean"
 * suggestions, no check of parameters for templates the catalog lacks.
 */
function differsByDesign(webhookMessage: string): string | undefined {
  if (webhookMessage.includes('(did you mean')) return 'the webhook suggests a name; the policies do not';
  if (webhookMessage.includes('which is not in the catalog'))
    return 'the webhook checks parameters of templates it lacks; the policies know one template';
  return undefined;
}

const PATTERN_KEYS = ['podpattern.dev/sidecar', 'podpattern.dev/ambassador', 'podpattern.dev/adapter'];

/**
 * A template left to the webhook here: per-pod sizing (`podpattern policy` refuses it, by design),
 * or who may use it (the namespaces here do not carry the labels it selects; the tenancy-policies
 * group compares it where they do).
 */
function webhookOnly(template: Json): boolean {
  return template.spec?.sizing !== undefined || template.spec?.availability !== undefined;
}

/** Pods of the golden cases that ask for exactly one template by their own annotations. */
function singleTemplateGoldenPods(): { name: string; template: string; pod: Json }[] {
  const dir = join(REPO_ROOT, 'test', 'golden');
  const out: { name: string; template: string; pod: Json }[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
      .map((d) => d.toJS() as Json)
      .filter((d) => d?.kind === 'Pod');
    docs.forEach((pod, i) => {
      const annotations = (pod.metadata?.annotations ?? {}) as Record<string, unknown>;
      const names = PATTERN_KEYS.flatMap((k) => (typeof annotations[k] === 'string' ? annotations[k].split(',') : []))
        .map((n) => n.trim())
        .filter(Boolean);
      if (new Set(names).size !== 1) return;
      out.push({ name: `${file.replace(/\.yaml$/, '')}${docs.length > 1 ? `#${i + 1}` : ''}`, template: names[0] as string, pod });
    });
  }
  return out;
}

/** Whether the API server serves admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later). */
export async function mutatingPoliciesServed(kube: Context['kube']): Promise<boolean> {
  const discovery = await kube.kubectl(['get', '--raw', '/apis/admissionregistration.k8s.io/v1']);
  return discovery.code === 0 && (JSON.parse(discovery.stdout) as Json).resources.some((r: Json) => r.name === 'mutatingadmissionpolicies');
}

export async function policyTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const served = await mutatingPoliciesServed(kube);
  if (!served) {
    // Said, not silently passed: the oldest leg predates MutatingAdmissionPolicy v1.
    t.comment(
      `policy tests not run: kube-apiserver ${ctx.cluster.serverVersion} does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 and later)`,
    );
    return;
  }
  // The golden cases also use the test fixture templates: the webhook gets them as
  // PatternTemplate objects, the compiler from --catalog-dir.
  const fixtures = join(REPO_ROOT, 'test', 'fixtures', 'catalog');
  const fixtureNames = readdirSync(fixtures)
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(fixtures, f), 'utf8')).map((d) => (d.toJS() as Json)?.metadata?.name as string | undefined),
    )
    .filter((n): n is string => n !== undefined);
  let policyNamespace = '';
  t.teardown(async () => {
    await kube.kubectl(['delete', '-f', fixtures, '--ignore-not-found']);
  });

  await t.test('podpattern policy compiles every built-in and the API server accepts the objects', async (t) => {
    const applied0 = await kube.kubectl(['apply', '-f', fixtures]);
    t.equal(applied0.code, 0, outcome(applied0, 'the fixture PatternTemplates are stored'));
    await eventually(
      'the webhook to serve the fixture templates',
      async () => {
        const probe = await kube.create(
          podManifest(kube.unique('probe'), ctx.namespaces.enabled, { 'podpattern.dev/sidecar': 'demo-sidecar' }),
          ['--dry-run=server'],
        );
        return probe.object?.metadata?.annotations?.['podpattern.dev/status'] !== undefined ? true : undefined;
      },
      60_000,
    );
    // The fixtures are compiled from the PatternTemplate objects the webhook serves (the API
    // server returns their maps with sorted keys, and the status record lists pod annotations
    // in the template's key order), the built-ins by name. A template with per-pod sizing or an
    // availability is the webhook's alone (podpattern policy refuses it, by design).
    const stored = (await kube.json(['get', 'patterntemplates'])).items as Json[];
    const podpattern = (args: string[], input?: string) =>
      spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js'), 'policy', ...args, '-o', 'json'], {
        encoding: 'utf8',
        input,
        // Every built-in's policies are over 2 MB of JSON, past spawnSync's 1 MiB default.
        maxBuffer: 64 * 1024 * 1024,
      });
    const builtins = podpattern(ctx.catalog.map((tpl) => tpl.name));
    const fromCluster = podpattern(
      ['-f', '-'],
      stored
        .filter((o) => fixtureNames.includes(o.metadata.name) && !webhookOnly(o))
        .map((o) => JSON.stringify(o))
        .join('\n---\n'),
    );
    t.equal(builtins.status, 0, builtins.stderr);
    t.equal(fromCluster.status, 0, fromCluster.stderr);
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [...(JSON.parse(builtins.stdout) as Json).items, ...(JSON.parse(fromCluster.stdout) as Json).items],
    };
    // Test-only: the bindings select a namespace the webhook does not serve, so what is stored
    // there is the policies' work alone (shipped bindings select the injection label's namespaces).
    for (const item of list.items as Json[]) {
      if (item.kind.endsWith('Binding')) item.spec.matchResources.namespaceSelector = { matchLabels: { [POLICY_LABEL]: 'policies' } };
    }
    const applied = await kube.kubectl(['apply', '-f', '-'], JSON.stringify(list));
    t.equal(applied.code, 0, outcome(applied));
    policyNamespace = await kube.namespace(undefined, { labels: { [POLICY_LABEL]: 'policies' } });
    // Policies take effect once the API server's informers see them.
    const template = ctx.pick('sidecar', 'https-proxy');
    await eventually(
      'the policies to inject',
      async () => {
        const probe = await kube.create(podManifest(kube.unique('probe'), policyNamespace, requestAnnotations(template)), [
          '--dry-run=server',
        ]);
        return probe.object?.metadata?.annotations?.['podpattern.dev/status'] !== undefined ? true : undefined;
      },
      60_000,
    );
  });

  const compare = async (t: Test, label: string, pod: Json): Promise<void> => {
    const name = kube.unique('same');
    const make = (namespace: string): Json => {
      const copy = structuredClone<Json>(pod);
      copy.metadata = { ...copy.metadata, name, namespace };
      delete copy.metadata.generateName;
      return copy;
    };
    const viaWebhook = await kube.create(make(ctx.namespaces.enabled));
    const viaPolicy = await kube.create(make(policyNamespace));
    t.equal(
      viaPolicy.code === 0,
      viaWebhook.code === 0,
      `${label}: admitted by both or by neither (webhook: ${viaWebhook.code === 0 ? 'admitted' : denial(viaWebhook.stderr)}; policies: ${viaPolicy.code === 0 ? 'admitted' : denial(viaPolicy.stderr)})`,
    );
    if (viaWebhook.object !== undefined && viaPolicy.object !== undefined) {
      t.same(
        comparable(viaPolicy.object, policyNamespace),
        comparable(viaWebhook.object, ctx.namespaces.enabled),
        `${label}: the stored pods are the same`,
      );
    } else if (viaWebhook.code !== 0 && viaPolicy.code !== 0) {
      const byDesign = differsByDesign(denial(viaWebhook.stderr));
      if (byDesign === undefined) t.equal(denial(viaPolicy.stderr), denial(viaWebhook.stderr), `${label}: the same denial message`);
      else t.comment(`${label}: both deny; the messages differ by design: ${byDesign}`);
    }
  };

  await t.test('every built-in: the pod stored through the policies is the pod stored through the webhook', async (t) => {
    for (const template of ctx.catalog) {
      await compare(t, template.name, podManifest('x', 'x', requestAnnotations(template)));
      const job = podManifest('x', 'x', requestAnnotations(template));
      job.spec.restartPolicy = 'Never';
      await compare(t, `${template.name} in a pod that runs to completion`, job);
    }
  });

  await t.test('every single-template golden case: same stored pod, or the same denial', async (t) => {
    const webhookOnlyNames = new Set(
      ((await kube.json(['get', 'patterntemplates'])).items as Json[]).filter(webhookOnly).map((o) => o.metadata.name as string),
    );
    for (const { name, template, pod } of singleTemplateGoldenPods()) {
      if (webhookOnlyNames.has(template)) {
        t.comment(
          `golden ${name}: not compared here, ${template} is sized (the webhook's alone) or limited to namespaces by its availability (the tenancy-policies group compares those)`,
        );
        continue;
      }
      // A mirror's registry host on our image: the webhook keeps the pod as it is, and so do the
      // policies (the injection is the one they would make).
      if (name === 'registry-mirror-kept') {
        await compare(t, `golden ${name}`, pod);
        continue;
      }
      const copy = NOT_AS_RENDERED.get(name);
      if (copy !== undefined) {
        const created = await kube.create({
          ...pod,
          metadata: { ...pod.metadata, name: kube.unique('reinject'), namespace: policyNamespace },
        });
        t.not(created.code, 0, `golden ${name}: the policies refuse ${copy}`);
        t.match(
          denial(created.stderr),
          /says template https-proxy is injected, but the pod's copy of its containers or files is not what it renders/,
          `golden ${name}: and say why`,
        );
        continue;
      }
      if (pod.metadata?.annotations?.['podpattern.dev/status'] !== undefined) {
        // By design (docs/policy.md): the webhook undoes an earlier injection and injects
        // afresh; the policies cannot undo one, and deny the pod saying so.
        const refused = await kube.create({
          ...pod,
          metadata: { ...pod.metadata, name: kube.unique('reinject'), namespace: policyNamespace },
        });
        t.not(refused.code, 0, `golden ${name}: the policies refuse a pod that carries another injection`);
        // A native sidecar that lost its restartPolicy keeps its startup probe, which the API
        // server's validation refuses on an ordinary init container before any policy runs.
        t.match(
          denial(refused.stderr),
          /records an injection by other templates or another version|says template \S+ is injected, but the pod lacks its containers|initContainers\[\d+\]\.startupProbe: Forbidden/,
          `golden ${name}: and say why`,
        );
        continue;
      }
      await compare(t, `golden ${name}`, pod);
    }
  });

  await t.test('beside the webhook: where both apply, the pod is injected once and is the same', async (t) => {
    const both = await kube.namespace('enabled', { labels: { [POLICY_LABEL]: 'policies' } });
    for (const template of ctx.catalog) {
      const name = kube.unique('both');
      const pod = (namespace: string): Json => podManifest(name, namespace, requestAnnotations(template));
      const viaBoth = await kube.create(pod(both));
      const viaWebhook = await kube.create(pod(ctx.namespaces.enabled));
      t.equal(viaBoth.code, 0, outcome(viaBoth, template.name));
      if (viaBoth.object !== undefined && viaWebhook.object !== undefined) {
        t.same(
          comparable(viaBoth.object, both),
          comparable(viaWebhook.object, ctx.namespaces.enabled),
          `${template.name}: the same stored pod`,
        );
      }
    }
  });

  await t.test('denials match case by case', async (t) => {
    const base = (tpl: string): Json => podManifest('x', 'x', requestAnnotations(ctx.catalog.find((c) => c.name === tpl) as never));
    const cases: [string, Json][] = [];
    const add = (label: string, tpl: string, annotations: Record<string, string>, spec?: (s: Json) => void): void => {
      const pod = base(tpl);
      Object.assign(pod.metadata.annotations, annotations);
      spec?.(pod.spec);
      cases.push([label, pod]);
    };
    add('unknown parameter', 'https-proxy', { 'https-proxy.podpattern.dev/no-such': 'x' });
    add('missing required parameter', 'https-proxy', { 'https-proxy.podpattern.dev/tls-secret': undefined as never });
    add('not a whole number', 'https-proxy', { 'https-proxy.podpattern.dev/upstream-port': '80a' });
    add('below the minimum', 'https-proxy', { 'https-proxy.podpattern.dev/listen-port': '80' });
    add('pattern mismatch', 'https-proxy', { 'https-proxy.podpattern.dev/tls-secret': 'Bad_Name' });
    add('hostile value', 'https-proxy', { 'https-proxy.podpattern.dev/tls-secret': 'a"; $(pod.name) \\ \' + "x' });
    add('wrong pattern', 'redis-exporter', { 'podpattern.dev/adapter': undefined as never, 'podpattern.dev/sidecar': 'redis-exporter' });
    add('bad podpattern.dev/inject', 'git-sync', { 'podpattern.dev/inject': 'maybe' });
    add('container name clash', 'https-proxy', {}, (s) => s.containers.push({ name: 'https-proxy', image: 'x' }));
    add('port clash', 'https-proxy', {}, (s) => (s.containers[0].ports = [{ containerPort: 8443 }]));
    add('hostNetwork with a listening helper', 'https-proxy', {}, (s) => (s.hostNetwork = true));
    add('env clash', 'redis-shard', {}, (s) => (s.containers[0].env = [{ name: 'REDIS_HOST', value: 'elsewhere' }]));
    for (const [label, pod] of cases) {
      for (const [k, v] of Object.entries(pod.metadata.annotations)) if (v === undefined) delete pod.metadata.annotations[k];
      await compare(t, label, pod);
    }
  });

  await t.test("benchmark (not asserted): the API server's admission time, policies vs webhook", async (t) => {
    const template = ctx.pick('sidecar', 'https-proxy');
    const pods = 25;
    const run = (namespace: string) =>
      measureAdmission(
        (args, input) => kube.kubectl(args, input),
        pods,
        (i) => podManifest(`bench-${i}`, namespace, requestAnnotations(template)),
      );
    await run(ctx.namespaces.enabled); // warm both paths (connections, informers, CEL programs)
    await run(policyNamespace);
    const webhook = await run(ctx.namespaces.enabled);
    const policies = await run(policyNamespace);
    const plain = await run(ctx.namespaces.plain);
    const line = (what: string, m: { admitMs: number; validateMs: number; samples: number }) =>
      `${what}: mutating ${m.admitMs.toFixed(2)} ms, validating ${m.validateMs.toFixed(2)} ms per pod (${m.samples} creations counted)`;
    t.comment(
      `${template.name}, ${pods} pods each, server-side dry run; ${line('webhook', webhook)}; ${line('policies', policies)}; ${line('no podpattern', plain)}`,
    );
    t.pass('measured');
  });
}
