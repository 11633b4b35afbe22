// A template change checked against the workloads that run it, on a real control plane: a
// Deployment's pods use an https-proxy-like cluster template with upstream-port "9090"; a new
// version with maximum 8080 is refused by the API server naming Deployment/<name> and the
// parameter; `podpattern templates diff` says the same beforehand; with
// podpattern.dev/force-reason it is accepted, an Event on the template records why, `podpattern
// status` names the Deployment, and the ReplicaSet's next pod is denied with the reason the
// check predicted; a description-only change is accepted without a warning. `templates diff
// --live` with no file compares this version's built-ins with what the cluster's pods run.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { eventually } from './kube.js';
import { outcome, type Json } from './pods.js';
import type { Context } from './suite.js';
import { podpattern } from './suite-operate.js';

const NAME = 'impact-proxy';
const FORCE = 'podpattern.dev/force-reason';

function proxy(maximum: number, extra: { description?: string; annotations?: Record<string, string> } = {}): Json {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: NAME, ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }) },
    spec: {
      pattern: 'sidecar',
      description: extra.description ?? 'Terminates TLS in front of the app (the impact tests).',
      parameters: { 'upstream-port': { type: 'integer', default: 8080, minimum: 1, maximum } },
      containers: [
        {
          name: NAME,
          image: 'registry.example/proxy:1',
          args: ['--upstream=127.0.0.1:$(params.upstream-port)'],
          ports: [{ containerPort: 8443 }],
        },
      ],
    },
  };
}

function deployment(name: string, namespace: string): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { 'podpattern.dev/sidecar': NAME, [`${NAME}.podpattern.dev/upstream-port`]: '9090' } },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
      },
    },
  };
}

function file(object: Json): string {
  const path = join(mkdtempSync(join(tmpdir(), 'podpattern-impact-')), 'template.json');
  writeFileSync(path, JSON.stringify(object));
  return path;
}

export async function impactTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;
  const ns = await kube.namespace('enabled');
  const web = kube.unique('web');
  const apply = (object: Json, extra: string[] = []) => kube.kubectl(['apply', ...extra, '-f', '-'], JSON.stringify(object));

  await t.test(
    'a maximum below the value a Deployment uses is refused, naming Deployment/<name> and the parameter; templates diff agrees',
    async (t) => {
      t.teardown(async () => {
        await kube.kubectl(['delete', 'deployment', web, '-n', ns, '--ignore-not-found', '--wait=true']);
        await kube.kubectl(['annotate', 'patterntemplates.podpattern.dev', NAME, '--overwrite', `${FORCE}=the impact tests are done`]);
        await kube.kubectl(['delete', 'patterntemplates.podpattern.dev', NAME, '--ignore-not-found']);
      });
      const created = await apply(proxy(65535));
      t.equal(created.code, 0, outcome(created));
      await eventually(
        `${NAME} Ready`,
        async () =>
          (await kube.json(['get', 'patterntemplates.podpattern.dev', NAME])).status?.conditions?.some(
            (c: Json) => c.type === 'Ready' && c.status === 'True',
          )
            ? true
            : undefined,
        60_000,
      );
      await kube.must(['apply', '-f', '-'], JSON.stringify(deployment(web, ns)));
      const pod = await eventually(
        "the Deployment's pod, injected and labelled",
        async () => (await kube.pods(ns, `app=${web}`)).find((p) => p.metadata.labels?.['podpattern.dev/injected'] === 'true'),
        180_000,
      );
      t.ok(pod.metadata.annotations['podpattern.dev/status'], 'the pod records its injection');

      const diff = await podpattern(ctx, ['templates', 'diff', '-f', file(proxy(8080))]);
      t.equal(diff.code, 1, `templates diff exits 1: ${diff.stdout}${diff.stderr}`);
      t.match(diff.stdout, new RegExp(`breaking  ${ns} Deployment/${web} \\(1 pod\\): .*upstream-port`));

      // Both replicas index the pod from their watch; the API server may call either.
      const refused = await eventually(
        "the refusal naming the Deployment from both replicas' index",
        async () => {
          const answers = await Promise.all([0, 1, 2, 3].map(() => apply(proxy(8080), ['--dry-run=server'])));
          return answers.every((a) => a.code !== 0 && a.stderr.includes(`Deployment/${web}`)) ? answers[0] : undefined;
        },
        120_000,
      );
      t.match(
        refused?.stderr,
        new RegExp(`${ns}: Deployment/${web} \\(1 pod\\): .*upstream-port.*8080`),
        'names the Deployment, the parameter and the bound',
      );
      const real = await apply(proxy(8080));
      t.not(real.code, 0, 'the real apply is refused too');
      t.match(real.stderr, new RegExp(`Deployment/${web}`));
      t.match(real.stderr, /podpattern\.dev\/force-reason/, 'and says how to force it');
      t.equal(
        (await kube.json(['get', 'patterntemplates.podpattern.dev', NAME])).spec.parameters['upstream-port'].maximum,
        65535,
        'the stored template is unchanged',
      );

      const reason = 'port 9090 is retired; web moves to 8080 next';
      const forced = await apply(proxy(8080, { annotations: { [FORCE]: reason } }));
      t.equal(forced.code, 0, outcome(forced));
      t.match(forced.stderr, /Warning: podpattern\.dev\/force-reason accepts/, 'kubectl shows the warning');
      const event = await eventually(
        'the ForcedChange Event on the template',
        async () => {
          return (await kube.events('default', 'PatternTemplate', NAME, 'ForcedChange'))[0];
        },
        60_000,
      );
      t.match(event.message, reason, 'the Event carries the reason');
      t.match(event.message, new RegExp(`Deployment/${web}`), 'and names the Deployment');
      t.equal(event.type, 'Warning');

      const status = await eventually(
        'status to name the Deployment',
        async () => {
          const result = await podpattern(ctx, ['status', '-n', ns]);
          return result.stdout.includes(`next pod denied: ${ns} Deployment/${web}`) ? result : undefined;
        },
        60_000,
      );
      t.equal(status.code, 1, 'status exits 1');
      const predicted =
        /next pod denied: [^:]+: (.*); fix the workload/.exec(
          status.stdout.split('\n').find((l) => l.includes(`Deployment/${web}`)) ?? '',
        )?.[1] ?? '';
      t.match(predicted, /upstream-port/);

      await kube.must(['scale', 'deployment', web, '-n', ns, '--replicas=2']);
      const failed = await eventually(
        "the ReplicaSet's FailedCreate",
        async () => {
          const events = await kube.json(['get', 'events', '-n', ns, '--field-selector', 'reason=FailedCreate']);
          return (events.items as Json[]).find((e) => String(e.message).includes('upstream-port'));
        },
        120_000,
      );
      t.ok(String(failed.message).includes(predicted), `the denial carries the predicted reason (${predicted})`);

      const described = await apply(proxy(8080, { description: 'Terminates TLS; the impact tests changed only this.' }));
      t.equal(described.code, 0, outcome(described));
      t.notMatch(described.stderr, /Warning:/, 'a description-only change gets no warning');
      const same = await podpattern(ctx, ['templates', 'diff', '-f', file(proxy(8080, { description: 'Another description.' }))]);
      t.equal(same.code, 0, `templates diff agrees: nothing breaks (${same.stdout}${same.stderr})`);
      t.match(same.stdout, new RegExp(`neutral   ${ns} Deployment/${web}`));

      // The revision of the last change is written once podpattern's watch sees it.
      const history = await eventually(
        'three revisions in templates history',
        async () => {
          const result = await podpattern(ctx, ['templates', 'history', NAME]);
          return result.code === 0 && result.stdout.trim().split('\n').length === 4 ? result : undefined;
        },
        60_000,
      );
      t.match(history.stdout, /^3\s+[0-9a-f]{16}\s+\S+\s+0$/m, 'the newest revision, which no pod runs yet');
    },
  );

  await t.test(
    "templates diff --live with no file, before an upgrade: the built-ins the cluster runs, compared with this version's",
    async (t) => {
      const logs = kube.unique('logs');
      t.teardown(() => kube.kubectl(['delete', 'deployment', logs, '-n', ns, '--ignore-not-found', '--wait=true']));
      const labels = { app: logs };
      await kube.must(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: logs, namespace: ns },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels, annotations: { 'podpattern.dev/adapter': 'log-normalizer' } },
              spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
            },
          },
        }),
      );
      await eventually(
        "the log-normalizer Deployment's pod, injected",
        async () => (await kube.pods(ns, `app=${logs}`)).find((p) => p.metadata.labels?.['podpattern.dev/injected'] === 'true'),
        180_000,
      );
      const result = await podpattern(ctx, ['templates', 'diff', '--live']);
      t.equal(result.code, 0, `${result.stdout}${result.stderr}`);
      // The same version on both sides: the pods record this version's hash, so none is read whole.
      t.match(result.stdout, /^PatternTemplate log-normalizer: ([0-9a-f]{16}) \(unchanged\)$/m);
      t.match(result.stdout, new RegExp(`^  neutral   ${ns} Deployment/${logs} \\(1 pod\\)$`, 'm'));
    },
  );
}
