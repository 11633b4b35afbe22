// The PatternTemplate CRD as the API server enforces it, and the live catalog: podpattern's pods,
// with the chart's RBAC and their in-cluster credentials, follow PatternTemplate objects.
import type { Test } from 'tap';
import { validateTemplate } from '../../src/catalog/validate.js';
import { RELEASE, eventually } from './kube.js';
import { outcome, podManifest, type Json } from './pods.js';
import type { Context } from './suite.js';

/** A template the CRD and the catalog both accept; each bad case below breaks one rule of it. */
function goodTemplate(name: string): Json {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name },
    spec: {
      pattern: 'adapter',
      description: 'A template for the CRD validation test.',
      parameters: { level: { type: 'integer', default: 1, minimum: 0, maximum: 9 } },
      containers: [{ name: `${name}-c`, image: 'registry.example/echo:1', args: ['--level=$(params.level)'] }],
      volumes: [{ name: `${name}-v`, emptyDir: {} }],
      app: { env: [{ name: 'ECHO_LEVEL', value: '$(params.level)' }], volumeMounts: [{ name: `${name}-v`, mountPath: '/echo' }] },
      files: { 'echo.conf': 'level $(params.level)\n' },
      podAnnotations: { 'example.org/echo': 'yes' },
    },
  };
}

/** Each CEL rule and schema bound of the CRD, a template that breaks it, and the API server's message. */
const BAD: Array<{ rule: string; change: (o: Json) => void; message: RegExp }> = [
  { rule: 'CEL: the name is a DNS label', change: (o) => (o.metadata.name = 'dotted.name'), message: /the name must be a DNS label/ },
  {
    rule: 'CEL: the name has at most 63 characters',
    change: (o) => (o.metadata.name = 'n'.repeat(64)),
    message: /the name must be a DNS label/,
  },
  {
    rule: "CEL: a parameter's minimum is not above its maximum",
    change: (o) => (o.spec.parameters.level.minimum = 10),
    message: /minimum must not be greater than maximum/,
  },
  { rule: 'spec is required', change: (o) => delete o.spec, message: /spec: Required value/ },
  {
    rule: 'spec.pattern is one of sidecar, ambassador, adapter',
    change: (o) => (o.spec.pattern = 'decorator'),
    message: /spec\.pattern: Unsupported value: "decorator"/,
  },
  { rule: 'spec.description is required', change: (o) => delete o.spec.description, message: /spec\.description: Required value/ },
  {
    rule: 'spec.description is not empty',
    change: (o) => (o.spec.description = ''),
    message: /spec\.description: Invalid value: "": spec\.description in body should be at least 1 chars long/,
  },
  {
    rule: 'at most 32 parameters',
    change: (o) =>
      (o.spec.parameters = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { type: 'string', enum: ['a'] }]))),
    message: /spec\.parameters: Too many: 33: must have at most 32 items/,
  },
  {
    rule: 'a parameter has a type',
    change: (o) => delete o.spec.parameters.level.type,
    message: /spec\.parameters\.level\.type: Required value/,
  },
  {
    rule: 'a parameter type is string, integer, number or boolean',
    change: (o) => (o.spec.parameters.level.type = 'float'),
    message: /spec\.parameters\.level\.type: Unsupported value: "float"/,
  },
  {
    rule: 'enum has at least one value',
    change: (o) => (o.spec.parameters.level.enum = []),
    message: /spec\.parameters\.level\.enum: Invalid value: 0: spec\.parameters\.level\.enum in body should have at least 1 items/,
  },
  {
    rule: 'pattern is not empty',
    change: (o) => (o.spec.parameters.level = { type: 'string', pattern: '' }),
    message: /spec\.parameters\.level\.pattern: Invalid value: "": .*at least 1 chars long/,
  },
  {
    rule: 'maxLength is at least 1',
    change: (o) => (o.spec.parameters.level = { type: 'string', enum: ['a'], maxLength: 0 }),
    message: /spec\.parameters\.level\.maxLength: Invalid value: 0: .*greater than or equal to 1/,
  },
  {
    rule: 'a container has a name',
    change: (o) => delete o.spec.containers[0].name,
    message: /spec\.containers\[0\]\.name: Required value/,
  },
  {
    rule: 'a container has an image',
    change: (o) => delete o.spec.containers[0].image,
    message: /spec\.containers\[0\]\.image: Required value/,
  },
  {
    rule: 'a container port has a containerPort',
    change: (o) => (o.spec.containers[0].ports = [{ name: 'http' }]),
    message: /spec\.containers\[0\]\.ports\[0\]\.containerPort: Required value/,
  },
  {
    rule: 'an init container has an image',
    change: (o) => (o.spec.initContainers = [{ name: 'init' }]),
    message: /spec\.initContainers\[0\]\.image: Required value/,
  },
  { rule: 'a volume has a name', change: (o) => delete o.spec.volumes[0].name, message: /spec\.volumes\[0\]\.name: Required value/ },
  { rule: 'app env has a name', change: (o) => delete o.spec.app.env[0].name, message: /spec\.app\.env\[0\]\.name: Required value/ },
  {
    rule: 'app volumeMounts have a mountPath',
    change: (o) => delete o.spec.app.volumeMounts[0].mountPath,
    message: /spec\.app\.volumeMounts\[0\]\.mountPath: Required value/,
  },
  {
    rule: 'files are strings',
    change: (o) => (o.spec.files['echo.conf'] = 7),
    message: /spec\.files\.echo\.conf: Invalid value: "integer": spec\.files\.echo\.conf in body must be of type string/,
  },
  {
    rule: 'podAnnotations are strings',
    change: (o) => (o.spec.podAnnotations['example.org/echo'] = true),
    message: /spec\.podAnnotations\.example\.org\/echo: Invalid value: "boolean": .*must be of type string/,
  },
];

/** Templates of a valid shape whose meaning the catalog refuses; the API server asks podpattern. */
const MEANINGLESS: Array<{ rule: string; change: (o: Json) => void; message: RegExp }> = [
  {
    rule: 'a placeholder names a declared parameter',
    change: (o) => (o.spec.containers[0].args = ['$(params.nope)']),
    message: /\$\(params\.nope\) names an undeclared parameter/,
  },
  { rule: 'a default has the declared type', change: (o) => (o.spec.parameters.level.default = 'high'), message: /level/ },
  {
    rule: 'a string parameter is bounded by an enum or an anchored pattern',
    change: (o) => (o.spec.parameters.name = { type: 'string' }),
    message: /name/,
  },
  {
    rule: 'a parameter name fits an annotation key',
    change: (o) => (o.spec.parameters.Level = { type: 'integer', default: 1 }),
    message: /Level/,
  },
];

export async function catalogTests(t: Test, ctx: Context): Promise<void> {
  const { kube } = ctx;

  await t.test('the PatternTemplate CRD is served cluster-scoped, and the built-ins are valid objects', async (t) => {
    const resources = await kube.must(['api-resources', '--api-group=podpattern.dev', '--no-headers']);
    t.match(resources, /^patterntemplates\s+ptpl\s+podpattern\.dev\/v1alpha1\s+false\s+PatternTemplate/m);
    for (const template of ctx.catalog) {
      const object = {
        apiVersion: 'podpattern.dev/v1alpha1',
        kind: 'PatternTemplate',
        metadata: { name: template.name },
        spec: template.spec,
      };
      const created = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(object));
      t.equal(created.code, 0, outcome(created, `${template.name} is accepted by the API server`));
    }
  });

  await t.test(
    'CRD validation: every CEL rule and schema bound refuses a bad template with its message, as the catalog does',
    async (t) => {
      const good = goodTemplate('crd-good');
      const accepted = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(good));
      t.equal(accepted.code, 0, outcome(accepted, `the base template is accepted by the server`));
      t.ok(validateTemplate(structuredClone(good), 'cluster', 'crd-good').ok, 'and by the catalog');
      for (const bad of BAD) {
        const object = goodTemplate('crd-bad');
        bad.change(object);
        const refused = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(object));
        t.not(refused.code, 0, `${bad.rule}: refused by the API server`);
        t.match(refused.stderr, bad.message, `${bad.rule}: with its message`);
        t.notOk(validateTemplate(structuredClone(object), 'cluster', 'crd-bad').ok, `${bad.rule}: the catalog refuses it too`);
      }
    },
  );

  await t.test('a template the API server accepts is one the catalog accepts: podpattern reviews PatternTemplate writes', async (t) => {
    for (const bad of MEANINGLESS) {
      const object = goodTemplate('crd-meaning');
      bad.change(object);
      t.notOk(validateTemplate(structuredClone(object), 'cluster', 'crd-meaning').ok, `${bad.rule}: the catalog refuses it`);
      const refused = await kube.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(object));
      t.not(refused.code, 0, `${bad.rule}: so does the API server`);
      t.match(
        refused.stderr,
        /admission webhook "templates\.podpattern\.dev" denied the request: podpattern's catalog refuses PatternTemplate crd-meaning/,
        `${bad.rule}: through podpattern's template review`,
      );
      t.match(refused.stderr, bad.message, `${bad.rule}: with the catalog's problem`);
    }
  });

  const ASK = { 'podpattern.dev/adapter': 'ops-echo' };
  const template = (image: string, extra: Json = {}): string =>
    JSON.stringify({
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'ops-echo' },
      spec: { pattern: 'adapter', description: 'An operator-defined adapter.', containers: [{ name: 'ops-echo', image, ...extra }] },
    });
  const imageOf = (pod: Json | undefined): string | undefined => pod?.spec?.containers?.find((c: Json) => c.name === 'ops-echo')?.image;
  const ready = async (): Promise<Json | undefined> =>
    (await kube.json(['get', 'patterntemplates.podpattern.dev', 'ops-echo'])).status?.conditions?.find((c: Json) => c.type === 'Ready');
  const tryPod = async (): Promise<{ code: number; stderr: string; object?: Json }> =>
    kube.create(podManifest(kube.unique('live'), ctx.namespaces.enabled, ASK));

  await t.test('live catalog: a new PatternTemplate is injected within seconds and marked Ready', async (t) => {
    const started = Date.now();
    await kube.must(['apply', '-f', '-'], template('registry.example/echo:1'));
    const pod = await eventually('the template to be injectable', async () => {
      const created = await tryPod();
      return created.code === 0 ? created.object : undefined;
    });
    t.equal(imageOf(pod), 'registry.example/echo:1');
    t.comment(`visible after ${Date.now() - started} ms`);
    t.match(await eventually('Ready=True', async () => ((await ready())?.status === 'True' ? ready() : undefined)), {
      status: 'True',
      reason: 'Valid',
    });
  });

  await t.test('live catalog: an update reaches the next pod', async (t) => {
    await kube.must(['apply', '-f', '-'], template('registry.example/echo:2'));
    const pod = await eventually('image :2', async () => {
      const created = await tryPod();
      return imageOf(created.object) === 'registry.example/echo:2' ? created.object : undefined;
    });
    t.ok(pod);
  });

  await t.test(
    'live catalog: a bad template that gets past the review keeps the last good version, with Ready=False and a warning',
    async (t) => {
      // Valid for the CRD's schema (its containers keep any fields), refused by the catalog: an
      // argument names an undeclared parameter. While podpattern runs, the API server refuses it
      // (the template review). It can still get in where that review is off or was not reached
      // (it fails open): here the review is removed while podpattern keeps running, so podpattern
      // sees the bad update and keeps the version it had. (A replica that starts after such an
      // update never had a good version: it refuses pods that ask for the template, naming why.)
      const broken = template('registry.example/echo:3', { args: ['$(params.nope)'] });
      const refused = await kube.kubectl(['apply', '-f', '-'], broken);
      t.not(refused.code, 0, 'refused while podpattern runs');
      t.match(refused.stderr, /\$\(params\.nope\) names an undeclared parameter/);
      const review = await kube.json(['get', 'validatingwebhookconfiguration', `${RELEASE}-templates`]);
      await kube.must(['delete', 'validatingwebhookconfiguration', `${RELEASE}-templates`]);
      t.teardown(async () => {
        const { metadata, ...rest } = review;
        // Put back as Helm applies it (server-side apply, field manager 'helm'), so the next
        // `helm upgrade` finds its own fields and no conflict with another manager.
        await kube.must(
          ['apply', '--server-side', '--field-manager=helm', '-f', '-'],
          JSON.stringify({ ...rest, metadata: { name: metadata.name, labels: metadata.labels, annotations: metadata.annotations } }),
        );
      });
      await eventually('the bad update to be stored', async () =>
        (await kube.kubectl(['apply', '-f', '-'], broken)).code === 0 ? true : undefined,
      );
      const condition = await eventually('Ready=False', async () => {
        const c = await ready();
        return c?.status === 'False' ? c : undefined;
      });
      t.match(condition, { reason: 'InvalidTemplate', message: /\$\(params\.nope\) names an undeclared parameter/ });
      // Ready=False is written as the update arrives; the catalog swaps after its debounce, and
      // from then on pods get the warning.
      const created = await eventually('the warning on a pod that asks for it', async () => {
        const attempt = await tryPod();
        return attempt.code !== 0 || /Warning: .*ops-echo \(cluster\) is invalid; the last good one is used/.test(attempt.stderr)
          ? attempt
          : undefined;
      });
      t.equal(created.code, 0, 'pods asking for it are still admitted');
      t.equal(imageOf(created.object), 'registry.example/echo:2', 'with the last good version');
      t.match(created.stderr, /Warning: .*ops-echo \(cluster\) is invalid; the last good one is used/, 'and kubectl shows the warning');
      t.ok((await kube.metric('podpattern_catalog_load_errors_total', { source: 'cluster' })) >= 1, 'the pods count it');
    },
  );

  await t.test('live catalog: a deleted template is no longer injected', async (t) => {
    // The pods these tests made still run it: a delete names them, so it is forced, with the reason.
    await kube.must([
      'annotate',
      'patterntemplates.podpattern.dev',
      'ops-echo',
      '--overwrite',
      'podpattern.dev/force-reason=the catalog tests remove it',
    ]);
    await kube.must(['delete', 'patterntemplates.podpattern.dev', 'ops-echo']);
    const refused = await eventually('the denial', async () => {
      const created = await tryPod();
      return created.code !== 0 && /no template named 'ops-echo'/.test(created.stderr) ? created : undefined;
    });
    t.match(refused.stderr, /podpattern cannot inject this pod/, 'refused by podpattern, naming the missing template');
  });

  await t.test('live catalog: podpattern recovers after the API server restarts', async (t) => {
    await ctx.cluster.restartApiserver();
    await kube.must(['apply', '-f', '-'], template('registry.example/echo:after-restart'));
    const pod = await eventually(
      'the template created after the restart',
      async () => {
        const created = await tryPod();
        return imageOf(created.object) === 'registry.example/echo:after-restart' ? created.object : undefined;
      },
      90_000,
    );
    t.ok(pod, 'is injected');
    await kube.webhookEndpoints(2);
    await kube.must([
      'annotate',
      'patterntemplates.podpattern.dev',
      'ops-echo',
      '--overwrite',
      'podpattern.dev/force-reason=the catalog tests remove it again',
    ]);
    await kube.must(['delete', 'patterntemplates.podpattern.dev', 'ops-echo']);
  });
}
