// `podpattern check` against a scripted API server holding a podpattern install: all ok, then
// each part broken (caBundle, endpoints, a template, the namespace label, a pod's annotations)
// and reported with its fix; no cluster or no RBAC is one line.
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { generateCertificates } from '../../src/certs/generate.js';
import { run } from '../../src/cli/check.js';
import { startFakeKube, status, type FakeKube } from '../helpers/fake-kube.js';

const webhookConfig = parseAllDocuments(readFileSync(new URL('../../webhook-config/mutatingwebhookconfiguration.yaml', import.meta.url), 'utf8'))
  .map((d) => d.toJS())
  .find((o) => o?.kind === 'MutatingWebhookConfiguration');

async function install(kube: FakeKube, options: { replicas?: number; ready?: number; otherCa?: boolean; templateReady?: boolean; namespaceLabels?: Record<string, string> } = {}) {
  const certs = await generateCertificates({ service: 'podpattern', namespace: 'podpattern' });
  const other = await generateCertificates({ service: 'podpattern', namespace: 'podpattern' });
  const bundle = Buffer.from((options.otherCa === true ? other : certs).caCertPem).toString('base64');
  const configuration = JSON.parse(JSON.stringify(webhookConfig).replaceAll('CA_BUNDLE_PLACEHOLDER', bundle));
  const { replicas = 2, ready = 2 } = options;
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '37', gitVersion: 'v1.37.2' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [configuration] }]);
  const selector = { 'app.kubernetes.io/name': 'podpattern', 'app.kubernetes.io/instance': 'podpattern' };
  kube.routes.set('GET /api/v1/namespaces/podpattern/services/podpattern', () => [200, { metadata: { name: 'podpattern' }, spec: { selector } }]);
  kube.routes.set('GET /apis/apps/v1/namespaces/podpattern/deployments', () => [200, { items: [{
    metadata: { name: 'podpattern' },
    spec: { replicas, selector: { matchLabels: selector }, template: { metadata: { labels: selector }, spec: { containers: [], volumes: [{ name: 'tls', secret: { secretName: 'podpattern-tls' } }] } } },
    status: { readyReplicas: ready },
  }] }]);
  kube.routes.set('GET /apis/discovery.k8s.io/v1/namespaces/podpattern/endpointslices', () => [200, { items: [{ addressType: 'IPv4', endpoints: Array.from({ length: ready }, (_, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: true } })) }] }]);
  kube.routes.set('GET /api/v1/namespaces/podpattern/secrets/podpattern-tls', () => [200, { data: { 'tls.crt': Buffer.from(certs.certPem).toString('base64') } }]);
  kube.routes.set('GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/patterntemplates.podpattern.dev', () => [200, { metadata: { name: 'patterntemplates.podpattern.dev' }, spec: {}, status: { conditions: [{ type: 'Established', status: 'True' }] } }]);
  const template = parse(readFileSync(new URL('../fixtures/catalog/demo.yaml', import.meta.url), 'utf8').split(/^---$/m)[0]!);
  template.status = { conditions: [{ type: 'Ready', status: options.templateReady === false ? 'False' : 'True', message: options.templateReady === false ? 'spec.containers[0].image: required' : 'ok' }] };
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [template] }]);
  kube.routes.set('GET /api/v1/namespaces/shop', () => [200, { metadata: { name: 'shop', labels: options.namespaceLabels ?? { 'podpattern.dev/injection': 'enabled' } } }]);
  return template.metadata.name as string;
}

function podFile(annotations: Record<string, string>, labels: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-check-'));
  const file = join(dir, 'pod.yaml');
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop', labels, annotations }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } }));
  return file;
}

async function check(kube: FakeKube, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['--kubeconfig', kube.kubeconfig, ...args], { stdout: (s) => out.push(s), stderr: (s) => err.push(s), readStdin: () => '' });
  return { code, out: out.join(''), err: err.join('') };
}

t.test('a healthy install: every check ok, and a pod that asks is injected', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const result = await check(kube, '-n', 'shop', '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }));
  t.equal(result.code, 0, result.out);
  t.match(result.out, /^\[ok\] {3}Kubernetes API: http:\/\/127\.0\.0\.1:\d+ answers \(Kubernetes 1\.37\)$/m);
  t.match(result.out, /^\[ok\] {3}webhook configuration: podpattern: injection-enabled\.podpattern\.dev \(failurePolicy Ignore\)/m);
  t.match(result.out, /^\[ok\] {3}endpoints: Service podpattern\/podpattern has 2 ready endpoint\(s\); Deployment podpattern\/podpattern has 2\/2 replicas ready$/m);
  t.match(result.out, /^\[ok\] {3}caBundle: injection-enabled\.podpattern\.dev, defaults-enabled\.podpattern\.dev, injection-required\.podpattern\.dev, defaults-required\.podpattern\.dev: the caBundle verifies the certificate of Secret podpattern\/podpattern-tls for podpattern\.podpattern\.svc/m);
  t.match(result.out, /^\[ok\] {3}CRD: patterntemplates\.podpattern\.dev is established$/m);
  t.match(result.out, /^\[ok\] {3}templates: \S+ is Ready$/m);
  t.match(result.out, /^\[ok\] {3}namespace shop: podpattern\.dev\/injection=enabled: pods go to injection-enabled\.podpattern\.dev \(failurePolicy Ignore\)/m);
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
  t.match(result.out, /^\[FAIL\] caBundle: injection-enabled\.podpattern\.dev, .*: no CA in the caBundle .* signed the serving certificate .*\n {7}fix: put the CA that signed Secret podpattern\/podpattern-tls into the caBundle/m);
  t.match(result.out, /^\[FAIL\] endpoints: Service podpattern\/podpattern has no ready endpoint: the API server cannot call the webhook \(Deployment podpattern\/podpattern has 0\/0 replicas ready\)\n {7}fix: kubectl -n podpattern scale deployment\/podpattern --replicas=2$/m);
  t.match(result.out, new RegExp(`^\\[FAIL\\] templates: ${name} is not Ready: spec\\.containers\\[0\\]\\.image: required.*\\n {7}fix: kubectl edit ptpl ${name}`, 'm'));
  t.match(result.out, /^\[FAIL\] namespace shop: not labelled podpattern\.dev\/injection: its pods are never sent to podpattern\n {7}fix: kubectl label namespace shop podpattern\.dev\/injection=enabled/m);
  t.match(result.out, /^\[FAIL\] pod Pod\/web: not sent to podpattern \(injection-enabled\.podpattern\.dev: the namespace needs podpattern\.dev\/injection In \[enabled\]/m);
  t.match(result.out, /\n5 check\(s\) failed/);
});

t.test('pods: not asking is fine, a misspelt key is sent and denied, the opt-out label keeps a pod away', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const plain = await check(kube, '-f', podFile({ 'prometheus.io/scrape': 'true' }));
  t.match(plain.out, /^\[ok\] {3}pod Pod\/web: not sent to podpattern \(.*matchCondition has-a-podpattern-annotation is false.*\); it asks for no template, so nothing is lost$/m);
  t.equal(plain.code, 0);
  const typo = await check(kube, '-f', podFile({ 'podpattern.dev/sidcar': 'redis-exporter' }));
  t.match(typo.out, /^\[FAIL\] pod Pod\/web: sent to injection-enabled\.podpattern\.dev; would be denied \(invalid-annotation\): [\s\S]*did you mean/m);
  const own = await check(kube, '-f', podFile({ 'podpattern.dev/adapter': 'redis-exporter' }, { 'app.kubernetes.io/name': 'podpattern' }));
  t.match(own.out, /^\[FAIL\] pod Pod\/web: not sent to podpattern \(injection-enabled\.podpattern\.dev: the pod needs app\.kubernetes\.io\/name NotIn \[podpattern\]/m);
});

t.test('no cluster, no RBAC, no webhook: one clear line each, exit 1', async (t) => {
  const kube = await startFakeKube();
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '37' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => status(403, 'mutatingwebhookconfigurations.admissionregistration.k8s.io is forbidden: User "me" cannot list resource'));
  const forbidden = await check(kube);
  t.equal(forbidden.code, 1);
  t.match(forbidden.out, /^\[FAIL\] webhook configuration: cannot list MutatingWebhookConfigurations: forbidden \(.*cannot list resource\); ask for that permission \(RBAC\)/m);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [200, { items: [] }]);
  const missing = await check(kube);
  t.match(missing.out, /^\[FAIL\] webhook configuration: no MutatingWebhookConfiguration has a podpattern\.dev webhook.*\n {7}fix: install podpattern: helm install/m);
  await kube.close();
  const down = await check(kube);
  t.equal(down.code, 1);
  t.match(down.out, /^\[FAIL\] Kubernetes API: cannot reach the API server: http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
  t.equal(down.out.split('\n').filter((l) => l.startsWith('[')).length, 1, 'one line, not one per check');
  t.notMatch(down.out + down.err, /\n\s+at /, 'no stack trace');
});

t.test('podpattern annotations on a workload\'s own metadata: a warning naming where they belong, before the pod\'s verdict', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  await install(kube);
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-check-'));
  const file = join(dir, 'cronjob.yaml');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'shop', annotations: { 'podpattern.dev/adapter': 'redis-exporter', 'redis-exporter.podpattern.dev/redis-port': '6380' } },
    spec: { schedule: '@daily', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'nginx:1.27' }] } } } } },
  }));
  const result = await check(kube, '-f', file);
  t.match(result.out, /^\[warn\] pod CronJob\/nightly: annotation podpattern\.dev\/adapter is on the workload's own metadata, where podpattern does not look; move it to spec\.jobTemplate\.spec\.template\.metadata\.annotations\n {7}fix: /m);
  t.match(result.out, /^\[warn\] pod CronJob\/nightly: annotation redis-exporter\.podpattern\.dev\/redis-port is on the workload's own metadata/m);
  t.match(result.out, /^\[ok\] {3}pod CronJob\/nightly: not sent to podpattern/m, 'and the pod template itself asks for nothing');
  t.equal(result.code, 0, 'warnings do not fail the check');
});
