// Golden files are the specification (STYLE.md). Each `test/golden/<case>.yaml` is run through
// the CLI's path and the result compared with `<case>.yaml.injected`. For every pod template
// that is injected, the engine's patch is applied to the input and must give the same pod,
// the pod must pass the Kubernetes Pod schema, and injecting it again must change nothing.
// New cases are found automatically; an `.injected` file without its input fails the suite.
// `npm run golden:update` rewrites the expected files.
//
// The first line of an input may carry options: `# options: {"nativeSidecars": "always"}`
// with keys nativeSidecars, kubeVersion (e.g. "1.30"), namespace and namespaceAnnotations.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyPatch, inject, type InjectOptions, type PodLike } from '../src/engine/index.js';
import { formatManifests, injectManifest, parseManifests, type ManifestResult } from '../src/cli/manifests.js';
import { testCatalog } from './helpers/catalog.js';
import { podSchemaErrors } from './helpers/pod-schema.js';
import { goldenWebhookDenial, goldenWebhookLeg } from './helpers/webhook-leg.js';

// Two folders of cases: test/golden/ and the user-facing examples/, one per built-in template,
// whose expected output lives in test/golden/examples/.
const folders = [
  { inputDir: fileURLToPath(new URL('./golden/', import.meta.url)), expectedDir: fileURLToPath(new URL('./golden/', import.meta.url)) },
  { inputDir: fileURLToPath(new URL('../examples/', import.meta.url)), expectedDir: fileURLToPath(new URL('./golden/examples/', import.meta.url)) },
];
const update = process.env['PODPATTERN_UPDATE_GOLDEN'] === '1';
const catalog = testCatalog();
const cases = folders.flatMap(({ inputDir, expectedDir }) =>
  readdirSync(inputDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: inputDir.includes('examples') ? `examples/${f}` : f, input: join(inputDir, f), expected: join(expectedDir, `${f}.injected`) })),
);

t.test('every expected file has its input', async (t) => {
  for (const { inputDir, expectedDir } of folders) {
    const inputs = readdirSync(inputDir);
    for (const expected of readdirSync(expectedDir).filter((f) => f.endsWith('.injected'))) {
      t.ok(inputs.includes(expected.replace(/\.injected$/, '')), `${expected} has an input file in ${inputDir}`);
    }
  }
});

t.test('there are golden cases, one for every built-in template', async (t) => {
  t.ok(cases.length >= 20, `found ${cases.length} cases`);
  const asked = cases.map((c) => readFileSync(c.input, 'utf8')).join('\n');
  for (const template of catalog.list().filter((x) => x.source === 'builtin')) {
    t.match(asked, new RegExp(`podpattern\\.dev/(sidecar|ambassador|adapter): .*\\b${template.name}\\b`), `a case asks for ${template.name}`);
  }
});

for (const { name, input, expected: expectedPath } of cases) {
  t.test(name, async (t) => {
    const text = readFileSync(input, 'utf8');
    const options = readOptions(text);
    const results = parseManifests(text).map((object) => injectManifest(object, catalog, options));
    const actual = render(results);
    if (update) {
      mkdirSync(dirname(expectedPath), { recursive: true });
      writeFileSync(expectedPath, actual);
    }
    t.ok(existsSync(expectedPath), `${expectedPath} exists (run npm run golden:update)`);
    if (existsSync(expectedPath)) t.equal(actual, readFileSync(expectedPath, 'utf8'), 'output matches the golden file');

    for (const { result, label, object } of results) {
      if (result?.outcome === 'denied' && (object as { kind?: string }).kind === 'Pod') await goldenWebhookDenial(t, object as PodLike, result.message, options);
      if (result?.outcome !== 'injected') continue;
      const before = podTemplateOf(parseManifests(text).find((o) => labelOf(o) === label) as Record<string, unknown>);
      t.same(applyPatch(before, result.patch), result.pod, `${label}: the patch applied to the input gives the injected pod`);
      t.equal(podSchemaErrors(asPod(result.pod)), undefined, `${label}: the injected pod passes the Pod schema`);
      const again = inject(result.pod, catalog, options);
      t.match(again, { outcome: 'skipped', reason: 'already-injected' }, `${label}: injecting the injected pod changes nothing`);
      if ((object as { kind?: string }).kind === 'Pod') await goldenWebhookLeg(t, before, result.pod, options);
    }
  });
}

function render(results: ManifestResult[]): string {
  const header = results.flatMap((r) => r.warnings.map((w) => `# warning: ${w}`));
  const denied = results.flatMap((r) => (r.result?.outcome === 'denied' ? [`# denied: ${r.label}\n${r.result.message.split('\n').map((l) => `#   ${l}`).join('\n')}`] : []));
  const body = denied.length > 0 ? denied.join('\n') : formatManifests(results.map((r) => r.object), 'yaml');
  return `${[...header, body].join('\n').trimEnd()}\n`;
}

function readOptions(text: string): InjectOptions {
  const match = /^# options: (.*)$/m.exec(text.split('\n')[0] ?? '');
  const raw = match ? (JSON.parse(match[1] as string) as Record<string, unknown>) : {};
  const options: InjectOptions = { nativeSidecars: (raw['nativeSidecars'] as InjectOptions['nativeSidecars']) ?? 'auto', namespace: (raw['namespace'] as string) ?? 'default' };
  if (typeof raw['kubeVersion'] === 'string') {
    const [major, minor] = raw['kubeVersion'].split('.').map(Number);
    options.serverVersion = { major: major as number, minor: minor as number };
  }
  if (raw['namespaceAnnotations'] !== undefined) options.namespaceAnnotations = raw['namespaceAnnotations'] as Record<string, string>;
  return options;
}

function labelOf(object: unknown): string {
  const o = object as { kind?: string; metadata?: { name?: string; generateName?: string } };
  return `${o.kind ?? '(no kind)'}/${o.metadata?.name ?? o.metadata?.generateName ?? '(no name)'}`;
}

function podTemplateOf(object: Record<string, unknown>): PodLike {
  const spec = object['spec'] as Record<string, unknown> | undefined;
  switch (object['kind']) {
    case 'Pod':
      return object as PodLike;
    case 'CronJob':
      return ((spec?.['jobTemplate'] as Record<string, Record<string, unknown>>)['spec'] as Record<string, unknown>)['template'] as PodLike;
    default:
      return spec?.['template'] as PodLike;
  }
}

/** A pod template validated as a Pod: give it the kind and a name when it has none. */
function asPod(pod: PodLike): unknown {
  return { ...pod, apiVersion: 'v1', kind: 'Pod', metadata: { name: 'golden', ...pod.metadata } };
}
