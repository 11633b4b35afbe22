// What a new user meets at apply time: `kubectl apply` of a workload whose pods podpattern
// would refuse prints a warning at once (and the workload is stored: a warning never blocks),
// a ReplicaSet's FailedCreate Event carries the problem on its first line, and in webhook-less
// mode the podpattern-workloads ValidatingAdmissionPolicy warns the same way.
import type { Test } from 'tap';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from './kube.js';
import { outcome, type Json } from './pods.js';
import type { Context } from './suite.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The CLI as a user runs it, against the leg's cluster. */
function podpattern(ctx: Context, args: string[]): { code: number; stdout: string; stderr: string } {
  const run = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js'), ...args, '--kubeconfig', ctx.cluster.kubeconfig],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { code: run.status ?? 1, stdout: run.stdout, stderr: run.stderr };
}

function deployment(name: string, namespace: string, templateAnnotations: Record<string, string>, own: Record<string, string> = {}): Json {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, ...(Object.keys(own).length > 0 ? { annotations: own } : {}) },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: templateAnnotations },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] },
      },
    },
  };
}

/** kubectl's "Warning: …" lines on stderr. */
function warningsOf(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('Warning: '))
    .map((line) => line.slice('Warning: '.length));
}

export async function firstHourTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;

  await t.test(
    'kubectl apply of a Deployment asking for a misspelt template: a warning at once, the Deployment stored, the FailedCreate Event says why on its first line',
    async (t) => {
      const namespace = await kube.namespace('enabled');
      const applied = await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify(
          deployment('web', namespace, { 'podpattern.dev/sidecar': 'https-proxx', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' }),
        ),
      );
      t.comment(`kubectl apply printed:\n${applied.stderr}${applied.stdout}`);
      t.equal(applied.code, 0, outcome(applied, 'the apply succeeds'));
      t.match(
        warningsOf(applied.stderr)[0],
        /^podpattern will refuse the pods of Deployment\/web: podpattern\.dev\/sidecar: no template named 'https-proxx' \(did you mean https-proxy\?\)/,
      );
      t.equal((await kube.kubectl(['get', 'deployment', 'web', '-n', namespace])).code, 0, 'the Deployment is stored');
      const event = await eventually(
        "the ReplicaSet's FailedCreate Event",
        async () => {
          const events = (await kube.json(['get', 'events', '-n', namespace, '--field-selector', 'reason=FailedCreate'])).items as Json[];
          return events[0];
        },
        180_000,
      );
      t.match(
        String(event.message).split('\n')[0],
        /podpattern cannot inject this pod: podpattern\.dev\/sidecar: no template named 'https-proxx' \(did you mean https-proxy\?\)/,
        `its first line names the problem: ${String(event.message).split('\n')[0]}`,
      );
      const checked = podpattern(ctx, ['check', 'deploy/web', '-n', namespace]);
      t.equal(checked.code, 1, checked.stdout + checked.stderr);
      t.match(
        checked.stdout,
        /^\[FAIL\] pod Deployment\/web: sent to injection-enabled\.podpattern\.dev; would be denied \(unknown-template\): podpattern cannot inject this pod: podpattern\.dev\/sidecar: no template named 'https-proxx'/m,
        'check deploy/NAME reads it from the cluster and says why',
      );
      const reapplied = await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify(
          deployment('web', namespace, { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' }),
        ),
      );
      t.equal(reapplied.code, 0, outcome(reapplied));
      t.same(warningsOf(reapplied.stderr), [], 'fixed, the apply says nothing more');
      const fixed = podpattern(ctx, ['check', 'deploy/web', '-n', namespace]);
      t.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
      t.match(
        fixed.stdout,
        /^\[ok\] {3}pod Deployment\/web: sent to injection-enabled\.podpattern\.dev; would be injected with https-proxy$/m,
      );
      const pod = await eventually('a pod of the fixed Deployment', async () => (await kube.pods(namespace, 'app=web'))[0], 180_000);
      const name = String(pod.metadata.name);
      const onPod = podpattern(ctx, ['check', `pod/${name}`, '-n', namespace]);
      t.comment(onPod.stdout);
      t.equal(onPod.code, 0, onPod.stdout + onPod.stderr);
      t.match(
        onPod.stdout,
        new RegExp(`^\\[ok\\] {3}pod Pod/${name}: sent to injection-enabled\\.podpattern\\.dev`, 'm'),
        'check pod/NAME reads the pod from the cluster',
      );
      const ghost = podpattern(ctx, ['check', 'pod/ghost', '-n', namespace]);
      t.equal(ghost.code, 2);
      t.equal(
        ghost.stderr,
        `podpattern check: pod/ghost not found in namespace ${namespace} (kubectl get pods -n ${namespace} lists them; -n chooses the namespace)\n`,
      );
    },
  );

  await t.test(
    "podpattern annotations on the workload's own metadata, and a CronJob's template: warned; a plain namespace: not read",
    async (t) => {
      const namespace = await kube.namespace('enabled');
      const misplaced = await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify(deployment('misplaced', namespace, {}, { 'podpattern.dev/sidecar': 'https-proxy' })),
      );
      t.equal(misplaced.code, 0, outcome(misplaced));
      t.match(warningsOf(misplaced.stderr), [
        /^Deployment\/misplaced: annotation podpattern\.dev\/sidecar is on the workload's own metadata, where podpattern does not look/,
      ]);
      const cron = await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          metadata: { name: 'render', namespace },
          spec: {
            schedule: '0 0 1 1 *',
            jobTemplate: {
              spec: {
                template: {
                  metadata: { annotations: { 'podpattern.dev/sidecar': 'git-snyc' } },
                  spec: { restartPolicy: 'Never', containers: [{ name: 'render', image: 'registry.example/render:1.0' }] },
                },
              },
            },
          },
        }),
      );
      t.equal(cron.code, 0, outcome(cron));
      t.match(warningsOf(cron.stderr), [
        /^podpattern will refuse the pods of CronJob\/render: podpattern\.dev\/sidecar: no template named 'git-snyc' \(did you mean git-sync\?\)/,
      ]);
      const plain = await kube.namespace();
      const outside = await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify(deployment('web', plain, { 'podpattern.dev/sidecar': 'https-proxx' })),
      );
      t.equal(outside.code, 0, outcome(outside));
      t.same(warningsOf(outside.stderr), [], "a namespace not opted in is not podpattern's");
    },
  );

  await t.test(
    'webhook-less mode: the podpattern-workloads ValidatingAdmissionPolicy from podpattern policy warns, and never refuses',
    async (t) => {
      const compiled = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js'), 'policy', 'https-proxy', '-o', 'json'],
        { encoding: 'utf8' },
      );
      t.equal(compiled.status, 0, compiled.stderr);
      const items = (JSON.parse(compiled.stdout) as { items: Json[] }).items.filter((o) => o.metadata.name === 'podpattern-workloads');
      t.same(
        items.map((o) => o.kind),
        ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
      );
      const created = await kube.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
      t.equal(created.code, 0, outcome(created, 'the API server accepts the policy and its binding'));
      t.teardown(() =>
        kube.kubectl([
          'delete',
          'validatingadmissionpolicybinding,validatingadmissionpolicy',
          'podpattern-workloads',
          '--ignore-not-found',
        ]),
      );
      const namespace = await kube.namespace('enabled');
      // git-sync is in the webhook's catalog (so the webhook says nothing) but not compiled here.
      const asked = deployment('sync', namespace, {
        'podpattern.dev/sidecar': 'git-sync',
        'git-sync.podpattern.dev/repo': 'https://example.org/site.git',
      });
      const warned = await eventually(
        'the API server to load the policy',
        async () => {
          const tried = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(asked));
          return warningsOf(tried.stderr).length > 0 ? tried : undefined;
        },
        120_000,
      );
      t.equal(warned.code, 0, outcome(warned, 'the dry run is admitted'));
      t.match(warningsOf(warned.stderr), [
        /podpattern: the pod template asks for git-sync, which is not installed as an admission policy here \(https-proxy\): its pods will be created without it/,
      ]);
    },
  );
}
