// `podpattern check` against a scripted API server holding a podpattern install: all ok, then
// each part broken (caBundle, endpoints, a template, the namespace label, a pod's annotations)
// and reported with its fix; no cluster or no RBAC is one line.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { generateCertificates } from '../../src/certs/generate.js';
import { run } from '../../src/cli/check.js';
import { startFakeKube, status, type FakeKube } from '../helpers/fake-apiserver.js';
import { manifestFile, runCaptured } from '../helpers/cli.js';

const webhookConfig = parseAllDocuments(
  readFileSync(new URL('../../webhook-config/mutatingwebhookconfiguration.yaml', import.meta.url), 'utf8'),
)
  .map((d) => d.toJS())
  .find((o) => o?.kind === 'MutatingWebhookConfiguration');

async function install(
  kube: FakeKube,
  options: { replicas?: number; ready?: number; otherCa?: boolean; templateReady?: boolean; namespaceLabels?: Record<string, string> } = {},
) {
  const certs = await generateCertificates({ service: 'podpattern', namespace: 'podpattern' });
  const other = await generateCertificates({ service: 'podpattern', namespace: 'podpattern' });
  const bundle = Buffer.from((options.otherCa === true ? other : certs).caCertPem).toString('base64');
  const configuration = JSON.parse(JSON.stringify(webhookConfig).replaceAll('CA_BUNDLE_PLACEHOLDER', bundle));
  const { replicas = 2, ready = 2 } = options;
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '37', gitVersion: 'v1.37.2' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [configuration] }]);
  const selector = { 'app.kubernetes.io/name': 'podpattern', 'app.kubernetes.io/instance': 'podpattern' };
  kube.routes.set('GET /api/v1/namespaces/podpattern/services/podpattern', () => [
    200,
    { metadata: { name: 'podpattern' }, spec: { selector } },
  ]);
  kube.routes.set('GET /apis/apps/v1/namespaces/podpattern/deployments', () => [
    200,
    {
      items: [
        {
          metadata: { name: 'podpattern' },
          spec: {
            replicas,
            selector: { matchLabels: selector },
            template: {
              metadata: { labels: selector },
              spec: { containers: [], volumes: [{ name: 'tls', secret: { secretName: 'podpattern-tls' } }] },
            },
          },
          status: { readyReplicas: ready },
        },
      ],
    },
  ]);
  kube.routes.set('GET /apis/discovery.k8s.io/v1/namespaces/podpattern/endpointslices', () => [
    200,
    {
      items: [
        {
          addressType: 'IPv4',
          endpoints: Array.from({ length: ready }, (_, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: true } })),
        },
      ],
    },
  ]);
  kube.routes.set('GET /api/v1/namespaces/podpattern/secrets/podpattern-tls', () => [
    200,
    { data: { 'tls.crt': Buffer.from(certs.certPem).toString('base64') } },
  ]);
  kube.routes.set('GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/patterntemplates.podpattern.dev', () => [
    200,
    { metadata: { name: 'patterntemplates.podpattern.dev' }, spec: {}, status: { conditions: [{ type: 'Established', status: 'True' }] } },
  ]);
  const template = parse(readFileSync(new URL('../fixtures/catalog/demo.yaml', import.meta.url), 'utf8').split(/^---$/m)[0]!);
  template.status = {
    conditions: [
      {
        type: 'Ready',
        status: options.templateReady === false ? 'False' : 'True',
        message: options.templateReady === false ? 'spec.containers[0].image: required' : 'ok',
      },
    ],
  };
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [template] }]);
  kube.routes.set('GET /api/v1/namespaces/shop', () => [
    200,
    { metadata: { name: 'shop', labels: options.namespaceLabels ?? { 'podpattern.dev/injection': 'enabled' } } },
  ]);
  return template.metadata.name as string;
}

function podFile(annotations: Record<string, string>, labels: Record<string, string> = {}): string {
  return manifestFile({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'shop', labels, annotations },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
  });
}

function check(kube: FakeKube, ...args: string[]) {
  return runCaptured(run, ['--kubeconfig', kube.kubeconfig, ...args]);
}

t.test('a healthy install: every check ok, and a pod that asks is injected', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const result = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }));
  t.equal(result.code, 0, result.out);
  t.match(result.out, /^\[ok\] {3}Kubernetes API: http:\/\/127\.0\.0\.1:\d+ answers \(Kubernetes 1\.37\)$/m);
  t.match(result.out, /^\[ok\] {3}webhook configuration: podpattern: injection-enabled\.podpattern\.dev \(failurePolicy Ignore\)/m);
  t.match(
    result.out,
    /^\[ok\] {3}endpoints: Service podpattern\/podpattern has 2 ready endpoint\(s\); Deployment podpattern\/podpattern has 2\/2 replicas ready$/m,
  );
  t.match(
    result.out,
    /^\[ok\] {3}caBundle: injection-enabled\.podpattern\.dev, defaults-enabled\.podpattern\.dev, injection-required\.podpattern\.dev, defaults-required\.podpattern\.dev, policy-required\.podpattern\.dev: the caBundle verifies the certificate of Secret podpattern\/podpattern-tls for podpattern\.podpattern\.svc/m,
  );
  t.match(result.out, /^\[ok\] {3}CRD: patterntemplates\.podpattern\.dev is established$/m);
  t.match(result.out, /^\[ok\] {3}templates: \S+ is Ready$/m);
  t.match(
    result.out,
    /^\[ok\] {3}namespace shop: podpattern\.dev\/injection=enabled: pods go to injection-enabled\.podpattern\.dev \(failurePolicy Ignore\)/m,
  );
  t.match(result.out, /^\[ok\] {3}pod Pod\/web: sent to injection-enabled\.podpattern\.dev; would be injected with redis-exporter$/m);
  t.match(result.out, /\nall checks passed\n$/);
  t.notMatch(result.out, /FAIL|warn/);
});

t.test('each broken part is a FAIL with its fix, and the exit code is 1', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const name = await install(kube, { otherCa: true, replicas: 0, ready: 0, templateReady: false, namespaceLabels: {} });
  const result = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }));
  t.equal(result.code, 1);
  t.match(
    result.out,
    /^\[FAIL\] caBundle: injection-enabled\.podpattern\.dev, .*: no CA in the caBundle .* signed the serving certificate .*\n {7}fix: put the CA that signed Secret podpattern\/podpattern-tls into the caBundle/m,
  );
  t.match(
    result.out,
    /^\[FAIL\] endpoints: Service podpattern\/podpattern has no ready endpoint: the API server cannot call the webhook \(Deployment podpattern\/podpattern has 0\/0 replicas ready\)\n {7}fix: kubectl -n podpattern scale deployment\/podpattern --replicas=2$/m,
  );
  t.match(
    result.out,
    new RegExp(
      `^\\[FAIL\\] templates: ${name} is not Ready: spec\\.containers\\[0\\]\\.image: required.*\\n {7}fix: kubectl edit ptpl ${name}`,
      'm',
    ),
  );
  t.match(
    result.out,
    /^\[FAIL\] namespace shop: not labelled podpattern\.dev\/injection: its pods are never sent to podpattern\n {7}fix: kubectl label namespace shop podpattern\.dev\/injection=enabled/m,
  );
  t.match(
    result.out,
    /^\[FAIL\] pod Pod\/web: not sent to podpattern \(injection-enabled\.podpattern\.dev: the namespace needs podpattern\.dev\/injection In \[enabled\]/m,
  );
  t.match(result.out, /\n5 check\(s\) failed/);
});

t.test('pods: not asking is fine, a misspelt key is sent and denied, the opt-out label keeps a pod away', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const plain = await check(kube, '-f', podFile({ 'prometheus.io/scrape': 'true' }));
  t.match(
    plain.out,
    /^\[ok\] {3}pod Pod\/web: not sent to podpattern \(.*matchCondition has-a-podpattern-annotation is false.*\); it asks for no template, so nothing is lost$/m,
  );
  t.equal(plain.code, 0);
  const typo = await check(kube, '-f', podFile({ 'podpattern.dev/sidcar': 'redis-exporter' }));
  t.match(
    typo.out,
    /^\[FAIL\] pod Pod\/web: sent to injection-enabled\.podpattern\.dev; would be denied \(invalid-annotation\): [\s\S]*did you mean/m,
  );
  const own = await check(kube, '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }, { 'app.kubernetes.io/name': 'podpattern' }));
  t.match(
    own.out,
    /^\[FAIL\] pod Pod\/web: not sent to podpattern \(injection-enabled\.podpattern\.dev: the pod needs app\.kubernetes\.io\/name NotIn \[podpattern\]/m,
  );
});

t.test('no cluster, no RBAC, no webhook: one clear line each, exit 1', async (t) => {
  const kube = await startFakeKube();
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '37' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () =>
    status(403, 'mutatingwebhookconfigurations.admissionregistration.k8s.io is forbidden: User "me" cannot list resource'),
  );
  const forbidden = await check(kube);
  t.equal(forbidden.code, 1);
  t.match(
    forbidden.out,
    /^\[FAIL\] webhook configuration: cannot list MutatingWebhookConfigurations: forbidden \(.*cannot list resource\); ask for that permission \(RBAC\)/m,
  );
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [] }]);
  const missing = await check(kube);
  t.match(
    missing.out,
    /^\[FAIL\] webhook configuration: no MutatingWebhookConfiguration has a podpattern\.dev webhook.*\n {7}fix: install podpattern: helm install/m,
  );
  await kube.close();
  const down = await check(kube);
  t.equal(down.code, 1);
  t.match(down.out, /^\[FAIL\] Kubernetes API: cannot reach the API server: http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
  t.equal(down.out.split('\n').filter((l) => l.startsWith('[')).length, 1, 'one line, not one per check');
  t.notMatch(down.out + down.err, /\n\s+at /, 'no stack trace');
});

const deploymentObject = (annotations: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    replicas: 3,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' }, annotations }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
  },
});

t.test('KIND/NAME reads the pod or workload from the cluster and judges its pods', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  kube.routes.set('GET /apis/apps/v1/namespaces/shop/deployments/web', () => [
    200,
    deploymentObject({ 'podpattern.dev/sidecar': 'https-proxx' }),
  ]);
  kube.routes.set('GET /api/v1/namespaces/shop/pods/web-5d8c7-abcde', () => [
    200,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-5d8c7-abcde', namespace: 'shop', annotations: { 'podpattern.dev/adapter': 'redis-exporter' } },
      spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
    },
  ]);
  const deploy = await check(kube, 'deploy/web');
  t.equal(deploy.code, 1, deploy.out);
  t.match(
    deploy.out,
    /^\[FAIL\] pod Deployment\/web: sent to injection-enabled\.podpattern\.dev; would be denied \(unknown-template\): podpattern cannot inject this pod: podpattern\.dev\/sidecar: no template named 'https-proxx' \(did you mean https-proxy\?\)/m,
  );
  t.match(deploy.out, /^\[ok\] {3}namespace shop: /m, "the namespace is the context's");
  const pod = await check(kube, 'pod/web-5d8c7-abcde', '-n', 'shop');
  t.equal(pod.code, 0, pod.out);
  t.match(
    pod.out,
    /^\[ok\] {3}pod Pod\/web-5d8c7-abcde: sent to injection-enabled\.podpattern\.dev; would be injected with redis-exporter$/m,
  );
  t.ok(
    kube.requests.some((r) => r.url.startsWith('/apis/apps/v1/namespaces/shop/deployments/web')),
    'read from the cluster',
  );
});

t.test('KIND/NAME that is absent, unreadable or of an unknown kind: which, one line, exit 2', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const missing = await check(kube, 'pod/ghost');
  t.equal(missing.code, 2);
  t.equal(
    missing.err,
    'podpattern check: pod/ghost not found in namespace shop (kubectl get pods -n shop lists them; -n chooses the namespace)\n',
  );
  t.equal(missing.out, '', 'nothing else is checked');
  kube.routes.set('GET /apis/batch/v1/namespaces/prod/cronjobs/nightly', () =>
    status(
      403,
      'cronjobs.batch "nightly" is forbidden: User "me" cannot get resource "cronjobs" in API group "batch" in the namespace "prod"',
    ),
  );
  const forbidden = await check(kube, 'cj/nightly', '-n', 'prod');
  t.equal(forbidden.code, 2);
  t.match(
    forbidden.err,
    /^podpattern check: cannot read cj\/nightly in namespace prod: forbidden \(.*cannot get resource "cronjobs".*\); ask for that permission \(RBAC\)/,
  );
  const typo = await check(kube, 'deplyo/web');
  t.equal(typo.code, 2);
  t.equal(
    typo.err,
    "podpattern check: check reads pods and workloads, not 'deplyo' (did you mean deploy/web?): pod, deployment, statefulset, daemonset, replicaset, job, cronjob (or their short names)\nRun 'podpattern check --help' for usage.\n",
  );
  const flag = await check(kube, '--nope');
  t.equal(flag.code, 2);
  t.equal(flag.err.split('\n').length, 3, `one line and the hint: ${flag.err}`);
});

t.test('every layer is reported: what depends on a missing one is marked not checked, with why', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [] }]);
  const result = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }));
  t.equal(result.code, 1);
  t.match(
    result.out,
    /^\[FAIL\] webhook configuration: no MutatingWebhookConfiguration has a podpattern\.dev webhook, and no podpattern MutatingAdmissionPolicy is bound/m,
  );
  t.match(result.out, /^\[--\] {3}endpoints: not checked: there is no webhook configuration to follow \(above\)$/m);
  t.match(result.out, /^\[--\] {3}caBundle: not checked: /m);
  t.match(
    result.out,
    /^\[ok\] {3}CRD: patterntemplates\.podpattern\.dev is established$/m,
    'the layers that do not depend on it are still checked',
  );
  t.match(
    result.out,
    /^\[--\] {3}namespace shop: not checked: there is neither a podpattern webhook configuration nor a bound podpattern admission policy/m,
  );
  t.match(result.out, /^\[--\] {3}pod Pod\/web: not checked: /m);
  t.match(result.out, /\n1 check\(s\) failed, 0 warning\(s\), 4 not checked\n$/);
});

t.test('webhook-less mode: the policies podpattern policy prints stand for the webhook', async (t) => {
  const { run: policy } = await import('../../src/cli/policy.js');
  let printed = '';
  t.equal(
    await policy(['https-proxy', '-o', 'json'], { stdout: (s) => void (printed += s), stderr: () => undefined, readStdin: () => '' }),
    0,
  );
  const items = (JSON.parse(printed) as { items: Array<{ kind: string }> }).items;
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [] }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies', () => [
    200,
    { items: items.filter((o) => o.kind === 'MutatingAdmissionPolicy') },
  ]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings', () => [
    200,
    { items: items.filter((o) => o.kind === 'MutatingAdmissionPolicyBinding') },
  ]);
  const asks = await check(
    kube,
    '-n',
    'shop',
    '-f',
    podFile({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' }),
  );
  t.equal(asks.code, 0, asks.out);
  t.match(asks.out, /^\[ok\] {3}webhook configuration: none: webhook-less mode, the API server injects https-proxy itself/m);
  t.match(asks.out, /^\[--\] {3}endpoints: not checked: webhook-less mode has no webhook Service to call$/m);
  t.match(asks.out, /^\[ok\] {3}namespace shop: podpattern\.dev\/injection=enabled: pods go to policy podpattern-https-proxy/m);
  t.match(asks.out, /^\[ok\] {3}pod Pod\/web: sent to policy podpattern-https-proxy; would be injected with https-proxy$/m);
  const other = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }));
  t.equal(other.code, 1);
  t.match(
    other.out,
    /^\[FAIL\] pod Pod\/web: not sent to podpattern \(policy podpattern-https-proxy: matchCondition asks-for-this-template-alone is false; policy podpattern-https-proxy-patternpolicy: matchCondition asks-for-nothing is false\), but it asks for templates/m,
  );
});

t.test('--pre: the version, the admission APIs, cert-manager, permissions, an install already there', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '29', gitVersion: 'v1.29.4' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1', () => [
    200,
    {
      kind: 'APIResourceList',
      groupVersion: 'admissionregistration.k8s.io/v1',
      resources: [
        'mutatingwebhookconfigurations',
        'validatingwebhookconfigurations',
        'validatingadmissionpolicies',
        'validatingadmissionpolicybindings',
      ].map((name) => ({ name, kind: 'X', namespaced: false, singularName: '', verbs: ['create'] })),
    },
  ]);
  kube.routes.set('GET /apis', () => [
    200,
    { kind: 'APIGroupList', groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }] }] },
  ]);
  kube.routes.set(
    'POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    (body: { spec: { resourceAttributes: { resource: string } } }) => [
      201,
      { ...body, status: { allowed: body.spec.resourceAttributes.resource !== 'clusterroles' } },
    ],
  );
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [] }]);
  const pre = await check(kube, '--pre');
  t.equal(pre.code, 1, pre.out);
  t.match(pre.out, /^\[FAIL\] Kubernetes version: 1\.29: the chart needs 1\.30 or later/m);
  t.match(pre.out, /^\[ok\] {3}admission APIs: admissionregistration\.k8s\.io\/v1 serves mutatingwebhookconfigurations/m);
  t.match(pre.out, /^\[warn\] webhook-less mode: MutatingAdmissionPolicy \(admissionregistration\.k8s\.io\/v1\) is not served/m);
  t.match(pre.out, /^\[ok\] {3}cert-manager: not installed: keep tls\.mode=generate/m);
  t.match(pre.out, /^\[FAIL\] permissions: these credentials may not create clusterroles\.rbac\.authorization\.k8s\.io$/m);
  t.match(pre.out, /^\[ok\] {3}existing install: no podpattern webhook configuration yet$/m);
  t.equal(
    kube.requests.filter((r) => r.url.startsWith('/apis/authorization.k8s.io')).length,
    11,
    'one access review per kind the chart creates',
  );
  const both = await check(kube, '--pre', 'pod/web');
  t.equal(both.code, 2, 'no objects with --pre');
});

t.test("podpattern annotations on a workload's own metadata: a warning naming where they belong, before the pod's verdict", async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const file = manifestFile(
    {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: {
        name: 'nightly',
        namespace: 'shop',
        annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'redis-exporter.podpattern.dev/redis-port': '6380' },
      },
      spec: {
        schedule: '@daily',
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'nginx:1.27' }] } } } },
      },
    },
    'cronjob.yaml',
  );
  const result = await check(kube, '-f', file);
  t.match(
    result.out,
    /^\[warn\] pod CronJob\/nightly: annotation podpattern\.dev\/adapter is on the workload's own metadata, where podpattern does not look; move it to spec\.jobTemplate\.spec\.template\.metadata\.annotations\n {7}fix: /m,
  );
  t.match(
    result.out,
    /^\[warn\] pod CronJob\/nightly: annotation redis-exporter\.podpattern\.dev\/redis-port is on the workload's own metadata/m,
  );
  t.match(result.out, /^\[ok\] {3}pod CronJob\/nightly: not sent to podpattern/m, 'and the pod template itself asks for nothing');
  t.equal(result.code, 0, 'warnings do not fail the check');
});

t.test('-n NS reports the namespace PatternPolicy, and pods are judged under it', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube, { namespaceLabels: { 'podpattern.dev/injection': 'enabled', 'podpattern.dev/policy': 'require' } });
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/namespaces/shop/patternpolicies/default', () => [
    200,
    {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternPolicy',
      metadata: { name: 'default', namespace: 'shop' },
      spec: {
        require: [{ template: 'log-normalizer' }],
        forbid: ['git-sync'],
        narrow: { 'https-proxy': { 'upstream-port': { maximum: 9000 } } },
      },
    },
  ]);
  const result = await check(kube, '-n', 'shop');
  t.match(
    result.out,
    /^\[ok\] {3}namespace shop policy: requires log-normalizer in every pod \(no opt-out\); forbids git-sync; narrows https-proxy upstream-port$/m,
  );
  const optOut = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/inject': 'false' }));
  t.equal(optOut.code, 1);
  t.match(
    optOut.out,
    /pod Pod\/web: sent to injection-enabled\.podpattern\.dev, policy-required\.podpattern\.dev; would be denied \(required-by-policy\)/,
  );
  const bare = await check(kube, '-n', 'shop', '-f', podFile({}));
  t.match(bare.out, /pod Pod\/web: sent to policy-required\.podpattern\.dev; would be injected with log-normalizer/);

  kube.routes.set('GET /api/v1/namespaces/shop', () => [
    200,
    { metadata: { name: 'shop', labels: { 'podpattern.dev/injection': 'enabled' } } },
  ]);
  const unlabelled = await check(kube, '-n', 'shop');
  t.match(
    unlabelled.out,
    /^\[warn\] namespace shop policy: .*but the namespace is labelled podpattern\.dev\/policy=\(none\), not require, so pods without podpattern annotations are not sent to podpattern$/m,
  );
});

t.test('a template available elsewhere is explained', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const limited = {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'team-tap' },
    spec: {
      pattern: 'adapter',
      description: 'A tap for one team.',
      containers: [{ name: 'team-tap', image: 'registry.example/tap:1' }],
      availability: { namespaceSelector: { matchLabels: { team: 'a' } } },
    },
  };
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [limited] }]);
  const result = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'team-tap' }));
  t.equal(result.code, 1);
  t.match(
    result.out,
    /would be denied \(not-available\): podpattern cannot inject this pod: template team-tap is not available to pods of ServiceAccount default in namespace shop; it is available to namespaces team=a/,
  );
});
