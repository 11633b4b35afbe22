// The built-in catalog: the nine templates of docs/templates/README.md load without a problem,
// follow the house rules that keep them composable and safe (pinned images, resources, names
// prefixed with the template's name, bounded parameters that cannot carry config syntax), and
// each example pod in examples/ injects cleanly into a pod the Kubernetes Pod schema accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container } from '#kube';
import t from 'tap';
import { parse } from 'yaml';
import { buildCatalog, checkParameterValue, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { podSchemaErrors } from '../helpers/pod-schema.js';
import { startsBeforeApp } from '../../src/model/template.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const loaded = loadBuiltinTemplates();
const catalog = buildCatalog([loaded]);

/** Each built-in template and its pattern, as docs/templates/README.md lists them. */
const EXPECTED: Record<string, string> = {
  'https-proxy': 'sidecar',
  'git-sync': 'sidecar',
  'redis-shard': 'ambassador',
  'service-broker': 'ambassador',
  'request-splitter': 'ambassador',
  'redis-exporter': 'adapter',
  'redis-slowlog': 'adapter',
  'storm-logs': 'adapter',
  'log-normalizer': 'adapter',
};

t.test('the nine built-in templates load without problems', async (t) => {
  t.same(loaded.failures, [], 'no built-in template is refused');
  t.same(
    Object.fromEntries(catalog.list().map((template) => [template.name, template.spec.pattern])),
    Object.fromEntries(Object.entries(EXPECTED).sort(([a], [b]) => a.localeCompare(b))),
  );
  for (const template of catalog.list()) t.equal(template.source, 'builtin');
});

for (const template of catalog.list()) {
  t.test(`${template.name} follows the catalog's rules`, async (t) => {
    const { spec, name } = template;
    t.ok(spec.description.length <= 200 && /\.$/.test(spec.description), 'a short description that is a sentence');
    const all: V1Container[] = [...spec.initContainers, ...spec.containers];
    for (const c of all) {
      t.ok(c.name === name || c.name.startsWith(`${name}-`), `container ${c.name} is named after the template`);
      t.match(c.image, /^[a-z0-9./-]+(:[0-9]+)?\/?[a-z0-9._/-]*:[A-Za-z0-9._-]+$/, `${c.name}: image pinned by tag`);
      t.notMatch(c.image, /:latest$/, `${c.name}: not :latest`);
      for (const kind of ['requests', 'limits'] as const) {
        t.ok(
          c.resources?.[kind]?.['cpu'] !== undefined && c.resources?.[kind]?.['memory'] !== undefined,
          `${c.name}: cpu and memory ${kind}`,
        );
      }
      t.type(c.securityContext?.runAsUser, 'number', `${c.name}: a numeric runAsUser, so runAsNonRoot can be verified`);
      t.not(c.securityContext?.runAsUser, 0, `${c.name}: not root`);
      t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
    }
    for (const volume of spec.volumes) t.ok(volume.name.startsWith(`${name}-`), `volume ${volume.name} is named after the template`);
    const mounted = new Set(all.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
    if (Object.keys(spec.files).length > 0) t.ok(mounted.has(`${name}-files`), 'its files volume is mounted');
    for (const volume of spec.volumes)
      t.ok(mounted.has(volume.name) || (spec.app.volumeMounts ?? []).some((m) => m.name === volume.name), `volume ${volume.name} is used`);
  });

  t.test(`${template.name}: string parameters cannot carry config syntax`, async (t) => {
    // Values that would end a directive, open a block, quote, comment or break a line in the
    // nginx and twemproxy configs and the command lines these parameters reach.
    const hostile = ['a;b', 'a b', 'a{', 'a}', 'a"b', "a'b", 'a#b', 'a\nb', 'a,b:c', '$(x)', 'a`b', 'a\\b', 'a<b>'];
    for (const [parameterName, parameter] of Object.entries(template.spec.parameters)) {
      t.ok((parameter.description ?? '').length > 0, `${parameterName} has a description`);
      if (parameter.type !== 'string') continue;
      for (const value of hostile) {
        if (parameterName === 'shards' && value === 'a,b:c') continue; // commas separate shards; checked below
        t.not(checkParameterValue(parameter, value), undefined, `${parameterName} refuses ${JSON.stringify(value)}`);
      }
    }
  });
}

for (const template of catalog.list().filter((tpl) => startsBeforeApp(tpl.spec, tpl.spec.pattern))) {
  t.test(`${template.name} starts before the app with what the app needs at its start`, async (t) => {
    const { spec, name } = template;
    // A native sidecar counts as started once its startup probe passes (without one, as soon as
    // its process runs); git-sync's first checkout is an init container's, which ends before the
    // app starts.
    if (name === 'git-sync') t.ok(spec.initContainers.length > 0, 'an init container makes the first checkout');
    else for (const c of spec.containers) t.ok(c.startupProbe, `${c.name} is gated by a startup probe`);
  });
}

t.test('redis-shard accepts shard lists and refuses everything else', async (t) => {
  const shards = catalog.get('redis-shard')?.spec.parameters['shards'];
  if (shards === undefined) throw new Error('redis-shard has no shards parameter');
  for (const ok of ['redis-0.redis:6379', 'a:1,b.c.svc.cluster.local:6380:2', '10.0.0.1:6379:10'])
    t.equal(checkParameterValue(shards, ok), undefined, `accepts ${ok}`);
  for (const bad of ['', 'redis', 'a:6379,', ',a:6379', 'a:6379 name', 'a:6379:1:x', '- a:6379', 'a:6379\n- b:1'])
    t.not(checkParameterValue(shards, bad), undefined, `refuses ${JSON.stringify(bad)}`);
});

for (const name of Object.keys(EXPECTED)) {
  t.test(`examples/${name}.yaml injects into a valid pod`, async (t) => {
    const pod = parse(readFileSync(join(ROOT, 'examples', `${name}.yaml`), 'utf8')) as PodLike;
    t.match(pod.metadata?.annotations?.[`podpattern.dev/${EXPECTED[name]}`], name, 'the example asks for its template');
    const result = inject(pod, catalog, { nativeSidecars: 'never' });
    t.equal(result.outcome, 'injected', result.outcome === 'denied' ? result.message : 'injected');
    if (result.outcome !== 'injected') return;
    const first = EXPECTED[name] !== 'adapter';
    t.equal(result.warnings.length, first ? 1 : 0, first ? 'without native sidecars, one warning' : 'no warnings');
    if (first)
      t.match(
        result.warnings[0],
        /^template \S+'s .* should be Ready before the app starts, but native sidecars are turned off .*the order is not held/,
        'that the order is not held',
      );
    t.equal(podSchemaErrors(result.pod), undefined, 'the Pod schema accepts the result');
    const native = inject(pod, catalog, { nativeSidecars: 'always' });
    t.equal(native.outcome === 'injected' ? podSchemaErrors(native.pod) : native.outcome, undefined, 'and with native sidecars');
    if (native.outcome === 'injected') t.same(native.warnings, [], 'with no warning');
  });
}
