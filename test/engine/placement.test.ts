// Where added containers go: run-to-completion pods get native sidecars for every pattern, or
// are denied with the reason; hostNetwork pods refuse templates that listen (ports or probes);
// volumes the controller adds are known. Each injected pod is checked by applying the patch.
import t, { type Test } from 'tap';
import {
  applyPatch,
  inject,
  nativeSidecarSupport,
  runsToCompletion,
  type InjectOptions,
  type InjectionResult,
  type PodLike,
} from '../../src/engine/index.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();
const v = (minor: number): InjectOptions => ({ nativeSidecars: 'auto', serverVersion: { major: 1, minor }, namespace: 'ns' });

function pod(annotations: Record<string, string>, spec: Record<string, unknown> = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1' }], ...spec },
  };
}

function injected(t: Test, before: PodLike, result: InjectionResult): Extract<InjectionResult, { outcome: 'injected' }> {
  if (result.outcome !== 'injected') throw new Error(`expected an injection, got ${JSON.stringify(result)}`);
  t.same(applyPatch(before, result.patch), result.pod, 'the patch applied to the pod gives the injected pod');
  return result;
}

t.test('native sidecar support: by mode, then by server version', async (t) => {
  t.match(nativeSidecarSupport(v(29)), { native: true, why: /Kubernetes 1.29, which has native sidecars/ });
  t.match(nativeSidecarSupport(v(28)), { native: false, why: /1.28; native sidecars need 1.29 or later/ });
  t.match(nativeSidecarSupport({ nativeSidecars: 'auto' }), { native: false, why: /version is unknown/ });
  t.match(nativeSidecarSupport({ nativeSidecars: 'always', serverVersion: { major: 1, minor: 20 } }), { native: true });
  t.match(nativeSidecarSupport({ nativeSidecars: 'never', serverVersion: { major: 1, minor: 33 } }), {
    native: false,
    why: /--native-sidecars=never/,
  });
  t.match(nativeSidecarSupport({ nativeSidecars: 'auto', serverVersion: { major: 2, minor: 0 } }), { native: true });
});

t.test('run to completion: restartPolicy Never/OnFailure, or a Job template', async (t) => {
  t.equal(runsToCompletion(pod({}, { restartPolicy: 'Never' }), v(30)), true);
  t.equal(runsToCompletion(pod({}, { restartPolicy: 'OnFailure' }), v(30)), true);
  t.equal(runsToCompletion(pod({}, { restartPolicy: 'Always' }), v(30)), false);
  t.equal(runsToCompletion(pod({}), v(30)), false);
  t.equal(runsToCompletion(pod({}), { ...v(30), runsToCompletion: true }), true);
});

t.test('every pattern becomes a native sidecar in a pod that runs to completion', async (t) => {
  for (const [key, name, extra] of [
    ['podpattern.dev/sidecar', 'demo-sidecar', {}],
    ['podpattern.dev/ambassador', 'demo-ambassador', { 'demo-ambassador.podpattern.dev/service': 'db' }],
    ['podpattern.dev/adapter', 'demo-adapter', {}],
  ] as const) {
    const before = pod({ [key]: name, ...extra }, { restartPolicy: 'Never' });
    const result = injected(t, before, inject(before, catalog, v(30)));
    const added = result.pod.spec?.initContainers?.find((c) => c.name === name);
    t.equal(added?.restartPolicy, 'Always', `${name}: a native sidecar`);
    t.same(
      result.pod.spec?.containers.map((c) => c.name),
      ['app'],
      `${name}: spec.containers keeps only the app`,
    );
  }
  const longRunning = pod({ 'podpattern.dev/adapter': 'demo-adapter' });
  const classic = injected(t, longRunning, inject(longRunning, catalog, v(30)));
  t.ok(
    classic.pod.spec?.containers.some((c) => c.name === 'demo-adapter'),
    'in a long-running pod an adapter stays a container',
  );
  const init = classic.pod.spec?.initContainers?.find((c) => c.name === 'demo-adapter-init');
  t.equal(init?.restartPolicy, undefined, "a template's own init container stays a plain init container");
});

t.test('without native sidecars, a pod that runs to completion is denied with the reason', async (t) => {
  const job = pod({ 'podpattern.dev/adapter': 'demo-adapter' }, { restartPolicy: 'OnFailure' });
  for (const [options, why] of [
    [v(28), /Kubernetes 1.28; native sidecars need 1.29/],
    [{ nativeSidecars: 'never', namespace: 'ns' } as InjectOptions, /--native-sidecars=never/],
    [{ nativeSidecars: 'auto', namespace: 'ns' } as InjectOptions, /version is unknown/],
  ] as const) {
    const result = inject(job, catalog, options);
    t.match(result, { outcome: 'denied', reason: 'needs-native-sidecars' });
    if (result.outcome === 'denied') {
      t.match(
        result.message,
        /runs to completion \(restartPolicy: OnFailure\), and template demo-adapter adds the long-running container 'demo-adapter'/,
      );
      t.match(result.message, why);
    }
  }
  const template = pod({ 'podpattern.dev/adapter': 'demo-adapter' });
  t.match(
    inject(template, catalog, { ...v(28), runsToCompletion: true }),
    { outcome: 'denied', message: /a Job's pod/ },
    "a Job's template without a restartPolicy",
  );
});

t.test('hostNetwork: templates that listen are refused, by port or by probe; quiet ones are injected', async (t) => {
  const listening = pod({ 'podpattern.dev/adapter': 'demo-adapter' }, { hostNetwork: true });
  const denied = inject(listening, catalog, v(30));
  t.match(denied, {
    outcome: 'denied',
    reason: 'host-network',
    message: /hostNetwork: true, and template demo-adapter's container 'demo-adapter' listens \(port 9121\/TCP\)/,
  });
  const quiet = pod(
    { 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': 'https://example.org/r.git' },
    { hostNetwork: true },
  );
  injected(t, quiet, inject(quiet, catalog, v(30)));
  const notHost = pod({ 'podpattern.dev/adapter': 'demo-adapter' }, { hostNetwork: false });
  injected(t, notHost, inject(notHost, catalog, v(30)));
});

t.test('controller volumes (volumeClaimTemplates) are not missing', async (t) => {
  const mounting = pod(
    { 'podpattern.dev/adapter': 'demo-adapter' },
    { containers: [{ name: 'db', image: 'x', volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
  );
  t.match(inject(mounting, catalog, v(30)), { outcome: 'denied', reason: 'missing-volume' }, 'without it: missing');
  injected(t, mounting, inject(mounting, catalog, { ...v(30), controllerVolumes: ['data'] }));
});

t.test('typos and non-string values are denied with what to do', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { 'podpattern.dev/adaptr': 'demo-adapter' },
      /podpattern.dev\/adaptr is not a podpattern annotation \(did you mean podpattern.dev\/adapter\?\)/,
    ],
    [{ 'podpattern.dev/zzzzzzzzzz': 'x' }, /podpattern.dev\/zzzzzzzzzz is not a podpattern annotation; the podpattern.dev\/ keys are/],
    [{ 'podpattern.dev/adapter': 'demo-adaptor' }, /no template named 'demo-adaptor' \(did you mean demo-adapter\?\)/],
    [
      { 'podpattern.dev/adapter': 'demo-adapter', 'demo-adapter.podpattern.dev/metric-port': '9000' },
      /has no parameter 'metric-port' \(did you mean metrics-port\?\)/,
    ],
    [
      { 'demo-adaptr.podpattern.dev/metrics-port': '9000' },
      /demo-adaptr.podpattern.dev\/metrics-port sets a parameter of template 'demo-adaptr', which is not in the catalog \(did you mean demo-adapter.podpattern.dev\/metrics-port\?\)/,
    ],
    [
      { 'podpattern.dev/adapter': 'demo-adapter', 'demo-adapter.podpattern.dev/metrics-port': 9000 },
      /is the number 9000, not a string: annotation values are strings, so quote it \(demo-adapter.podpattern.dev\/metrics-port: "9000"\)/,
    ],
    [{ 'podpattern.dev/inject': false }, /podpattern.dev\/inject is the boolean false, not a string/],
    [{ 'podpattern.dev/adapter': null }, /podpattern.dev\/adapter is null, not a string/],
  ];
  for (const [annotations, message] of cases) {
    t.match(
      inject(pod(annotations as Record<string, string>), catalog, v(30)),
      { outcome: 'denied', message },
      JSON.stringify(annotations),
    );
  }
  const known = pod({ 'git-sync.podpattern.dev/repo': 'https://example.org/r.git' });
  t.match(
    inject(known, catalog, v(30)),
    { outcome: 'skipped', warnings: [/ignored: the pod does not ask for template git-sync/] },
    'a parameter of a catalog template not asked for only warns',
  );
  const empty = pod({ 'podpattern.dev/sidecar': '' });
  t.match(inject(empty, catalog, v(30)), { outcome: 'skipped', reason: 'not-requested' }, 'an empty list asks for nothing');
});
