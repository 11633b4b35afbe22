// `podpattern check --chain` against a scripted API server: podpattern's webhook configuration
// (webhook-config/), another webhook that strips restartPolicy from native sidecars, and a
// MutatingAdmissionPolicy. The dry run's answer is the pod as podpattern's engine injects it
// with that other webhook's edit applied, so what --chain reports is computed from a real patch.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { run } from '../../src/cli/check.js';
import { applyPatch, inject, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { startFakeKube, status, type FakeKube } from '../helpers/fake-apiserver.js';
import { manifestFile, runCaptured } from '../helpers/cli.js';
import { httpsProxyPod } from '../../bench/pod.js';

const podpatternWebhooks = parseAllDocuments(
  readFileSync(new URL('../../webhook-config/mutatingwebhookconfiguration.yaml', import.meta.url), 'utf8'),
)
  .map((d) => d.toJS())
  .find((o) => o?.kind === 'MutatingWebhookConfiguration');

const POD = httpsProxyPod();

/** A webhook of another vendor's configuration: sees every pod created, with these settings. */
function otherWebhook(name: string, settings: { timeoutSeconds: number; failurePolicy: string; service: string }) {
  return {
    metadata: { name },
    webhooks: [
      {
        name: `${name}.example.com`,
        clientConfig: { service: { namespace: 'tools', name: settings.service } },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        timeoutSeconds: settings.timeoutSeconds,
        failurePolicy: settings.failurePolicy,
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
      },
    ],
  };
}

/** The pod as the engine injects it, native sidecars' restartPolicy dropped (what the other webhook does). */
function injectedThenStripped(body: PodLike): PodLike {
  const result = inject(structuredClone(body), buildCatalog([loadBuiltinTemplates()]), {
    nativeSidecars: 'auto',
    namespace: 'shop',
    serverVersion: { major: 1, minor: 37 },
  });
  if (result.outcome !== 'injected') throw new Error(`not injected: ${result.outcome}`);
  const pod = applyPatch<PodLike>(body, result.patch);
  for (const c of pod.spec?.initContainers ?? []) delete c.restartPolicy;
  return pod;
}

function cluster(kube: FakeKube, options: { dryRun?: (body: PodLike) => [number, unknown] } = {}): void {
  const configuration = JSON.parse(JSON.stringify(podpatternWebhooks).replaceAll('CA_BUNDLE_PLACEHOLDER', 'Cg=='));
  kube.routes.set('GET /version', () => [200, { major: '1', minor: '37', gitVersion: 'v1.37.2' }]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', () => [
    200,
    {
      items: [
        otherWebhook('zz-strip-restart', { timeoutSeconds: 25, failurePolicy: 'Fail', service: 'strip' }),
        configuration,
        otherWebhook('audit-labels', { timeoutSeconds: 8, failurePolicy: 'Ignore', service: 'gone' }),
      ],
    },
  ]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies', () => [
    200,
    {
      items: [
        {
          metadata: { name: 'add-team-label' },
          spec: {
            failurePolicy: 'Fail',
            reinvocationPolicy: 'IfNeeded',
            matchConstraints: { resourceRules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }] },
          },
        },
        {
          metadata: { name: 'services-only' },
          spec: {
            matchConstraints: {
              resourceRules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['services'] }],
            },
          },
        },
      ],
    },
  ]);
  kube.routes.set('GET /apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings', () => [
    200,
    { items: [{ metadata: { name: 'add-team-label-everywhere' }, spec: { policyName: 'add-team-label' } }] },
  ]);
  const slices = (ready: number) =>
    [
      200,
      {
        items: [
          {
            addressType: 'IPv4',
            endpoints: Array.from({ length: ready }, (_, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: true } })),
          },
        ],
      },
    ] as [number, unknown];
  kube.routes.set('GET /apis/discovery.k8s.io/v1/namespaces/podpattern/endpointslices', () => slices(2));
  kube.routes.set('GET /apis/discovery.k8s.io/v1/namespaces/tools/endpointslices', (_body, raw) =>
    slices(raw.url?.includes('strip') === true ? 1 : 0),
  );
  kube.routes.set('GET /apis/podpattern.dev/v1alpha1/patterntemplates', () => [200, { items: [] }]);
  kube.routes.set('GET /api/v1/namespaces/shop', () => [
    200,
    { metadata: { name: 'shop', labels: { 'podpattern.dev/injection': 'required' } } },
  ]);
  kube.routes.set('POST /api/v1/namespaces/shop/pods', (body: PodLike) =>
    (options.dryRun ?? ((b: PodLike) => [201, injectedThenStripped(b)] as [number, unknown]))(body),
  );
}

function check(kube: FakeKube, ...args: string[]) {
  return runCaptured(run, ['--kubeconfig', kube.kubeconfig, ...args]);
}

t.test("--chain lists the steps in the API server's order and names what another step changed", async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  cluster(kube);
  const result = await check(kube, '--chain', '-n', 'shop', '-f', manifestFile(POD));
  t.equal(result.code, 1, result.out);
  const chain = result.out.split('\n').filter((l) => l.includes('chain Pod/web'));
  t.match(
    chain[0],
    /^\[ok\] {3}chain Pod\/web: 1\. MutatingAdmissionPolicy add-team-label: failurePolicy Fail, reinvocationPolicy IfNeeded, bound by add-team-label-everywhere/,
    'policies first',
  );
  t.match(
    chain[1],
    /^\[warn\] chain Pod\/web: 2\. mutating webhook audit-labels\/audit-labels\.example\.com: timeout 8s, failurePolicy Ignore, reinvocationPolicy Never, Service tools\/gone with 0 ready endpoint\(s\): no ready endpoint, the API server skips it/,
    'then webhooks by configuration name',
  );
  t.match(
    chain[2],
    /^\[ok\] {3}chain Pod\/web: 3\. mutating webhook podpattern\/injection-required\.podpattern\.dev: timeout 5s, failurePolicy Fail, reinvocationPolicy IfNeeded, Service podpattern\/podpattern with 2 ready endpoint\(s\)$/,
  );
  t.match(
    chain[3],
    /^\[ok\] {3}chain Pod\/web: 4\. mutating webhook zz-strip-restart\/zz-strip-restart\.example\.com: timeout 25s, failurePolicy Fail/,
  );
  t.notMatch(result.out, /services-only|injection-enabled\.podpattern\.dev: timeout/, 'steps that do not see the pod are left out');
  t.match(result.out, /^\[warn\] chain Pod\/web: the matching webhooks' timeouts add up to 38s, over the API server's 30s/m);
  t.match(
    result.out,
    /^\[FAIL\] chain Pod\/web: what podpattern added differs in the dry run's pod:\n {7}another admission step changed spec\.initContainers\[name=https-proxy\]\.restartPolicy: podpattern sets "Always", the stored pod has none$/m,
  );
  const post = kube.requests.find((r) => r.method === 'POST');
  t.match(post?.url, /[?&]dryRun=All(&|$)/, 'a server-side dry run: nothing is stored');
  t.equal(post?.body.metadata.annotations['podpattern.dev/sidecar'], 'https-proxy', 'of the pod in the file, as it is');
});

t.test('--chain: a dry run that keeps what podpattern added is ok', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  cluster(kube, {
    dryRun: (body) => {
      const pod = injectedThenStripped(body);
      for (const c of pod.spec?.initContainers ?? []) if (c.name === 'https-proxy') c.restartPolicy = 'Always';
      // What the API server adds: defaults and the ServiceAccount token mount.
      for (const c of pod.spec?.initContainers ?? [])
        Object.assign(c, {
          terminationMessagePath: '/dev/termination-log',
          imagePullPolicy: 'IfNotPresent',
          volumeMounts: [
            ...(c.volumeMounts ?? []),
            { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
          ],
        });
      return [201, pod];
    },
  });
  const result = await check(kube, '--chain', '-n', 'shop', '-f', manifestFile(POD));
  t.match(
    result.out,
    /^\[ok\] {3}chain Pod\/web: what podpattern adds \(https-proxy\) is in the dry run's pod as the offline engine adds it$/m,
  );
});

t.test('--chain: a refusal by an admission step is a FAIL with its message', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  cluster(kube, {
    dryRun: () => status(400, 'admission webhook "zz-strip-restart.example.com" denied the request: no sidecars here', 'BadRequest'),
  });
  const result = await check(kube, '--chain', '-n', 'shop', '-f', manifestFile(POD));
  t.equal(result.code, 1);
  t.match(
    result.out,
    /^\[FAIL\] chain Pod\/web: the API server refuses the pod \(server-side dry run\): .*admission webhook "zz-strip-restart\.example\.com" denied the request: no sidecars here/m,
  );
});

t.test('--chain without permission to create pods says which permission, exit 2', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  cluster(kube, {
    dryRun: () => status(403, 'pods is forbidden: User "dev" cannot create resource "pods" in API group "" in the namespace "shop"'),
  });
  const result = await check(kube, '--chain', '-n', 'shop', '-f', manifestFile(POD));
  t.equal(result.code, 2);
  t.match(
    result.err,
    /^podpattern check: cannot dry-run the pod in namespace shop: a server-side dry run needs permission to create pods there \(verb create on pods, in namespace shop\)/,
  );
});

t.test('--chain needs pods to follow', async (t) => {
  const kube = await startFakeKube();
  t.teardown(kube.close);
  const result = await check(kube, '--chain', '-n', 'shop');
  t.equal(result.code, 2);
  t.match(result.err, /--chain follows pods through admission: give it -f POD\.yaml or KIND\/NAME/);
});
