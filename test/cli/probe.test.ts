// `podpattern probe` against a scripted API server: an injected dry-run pod passes, one that
// comes back untouched fails with the likely causes, and RBAC or network failures are one line.
import t from 'tap';
import { run } from '../../src/cli/probe.js';
import { startFakeKube, status, writeKubeconfig } from '../helpers/fake-apiserver.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), readStdin: () => '' }, out, err };
}

t.test('a dry-run pod that comes back with podpattern.dev/status passes', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set('POST /api/v1/namespaces/shop/pods', (pod) => {
    pod.metadata.annotations['podpattern.dev/status'] = JSON.stringify({
      templates: [{ name: 'redis-exporter', pattern: 'adapter', hash: 'h' }],
    });
    pod.spec.containers.push({ name: 'redis-exporter', image: 'x' });
    return [201, pod];
  });
  const { io, out } = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig], io), 0);
  t.equal(out.join(''), 'ok: the webhook injected redis-exporter into a dry-run pod in shop (containers: app, redis-exporter)\n');
  t.equal(kube.requests.length, 1);
  t.match(kube.requests[0]!.url, /dryRun=All/, 'a dry run: nothing is created');
  t.same(kube.requests[0]!.body.metadata.annotations, { 'podpattern.dev/adapter': 'redis-exporter' });
});

t.test('an untouched pod fails with the causes; a denial is reported', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set('POST /api/v1/namespaces/other/pods', (pod) => [201, pod]);
  const { io, out } = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig, '-n', 'other', '--template', 'git-sync'], io), 1);
  t.match(
    out.join(''),
    /^fail: a dry-run pod asking for git-sync in other came back without it: .*labelled podpattern.dev\/injection=enabled.*podpattern check -n other/,
  );
  t.equal(kube.requests[0]!.body.metadata.annotations['podpattern.dev/sidecar'], 'git-sync', 'the pattern of a built-in template is known');
  kube.routes.set('POST /api/v1/namespaces/other/pods', () =>
    status(
      400,
      'admission webhook "injection-enabled.podpattern.dev" denied the request: podpattern: template git-sync needs repository',
      'BadRequest',
    ),
  );
  const denied = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig, '-n', 'other', '--template', 'git-sync'], denied.io), 1);
  t.match(denied.out.join(''), /^fail: the webhook denied the probe pod: .*needs repository/);
});

t.test('no RBAC, no cluster, no credentials: one line each, exit 1, no stack trace', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set('POST /api/v1/namespaces/shop/pods', () =>
    status(403, 'pods is forbidden: User "me" cannot create resource "pods" in API group "" in the namespace "shop"'),
  );
  const forbidden = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig], forbidden.io), 1);
  t.equal(
    forbidden.err.join(''),
    'podpattern probe: cannot create a dry-run pod in shop: forbidden (pods is forbidden: User "me" cannot create resource "pods" in API group "" in the namespace "shop"); ask for that permission (RBAC) or use a context that has it\n',
  );
  await kube.close();
  const down = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig], down.io), 1);
  t.match(
    down.err.join(''),
    /^podpattern probe: cannot create a dry-run pod in shop: http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\); is the cluster up/,
  );
  t.equal(down.err.join('').split('\n').length, 2, 'one line');
  const missing = capture();
  t.equal(await run(['--kubeconfig', '/nonexistent/kubeconfig'], missing.io), 1);
  t.match(missing.err.join(''), /^podpattern probe: cannot load the kubeconfig \/nonexistent\/kubeconfig: .*ENOENT/);
  const unknown = capture();
  t.equal(await run(['--template', 'mine'], unknown.io), 2);
  t.match(unknown.err.join(''), /--pattern/);
  writeKubeconfig(kube.kubeconfig, kube.url);
  const context = capture();
  t.equal(await run(['--kubeconfig', kube.kubeconfig, '--context', 'prod'], context.io), 1);
  t.match(context.err.join(''), /no context 'prod' \(contexts: fake\)/);
});
