// Golden files are the specification: a new behaviour means a new pair. Each
// `test/golden/<case>.yaml` is run through the CLI's path and the result compared with
// `<case>.yaml.injected`. For every pod template that is injected, the engine's patch is
// applied to the input and must give the same pod,
// the pod must pass the Kubernetes Pod schema, and injecting it again must change nothing.
// The webhook leg sends each pod template as the pod its controller would create (a Pod as
// it is) to the real Fastify app and applies the returned patch. YAML output is read back as
// YAML 1.1 (kubectl) and must mean what the input meant, outside the pod templates injected.
// New cases are found automatically; an `.injected` file without its input fails the suite.
// `npm run golden:update` rewrites the expected files.
//
// The first line of an input may carry options: `# options: {"nativeSidecars": "always"}`
// with keys nativeSidecars, kubeVersion (e.g. "1.28"), namespace and namespaceAnnotations.
// Without them a case runs on the CLI's defaults (the chart's oldest Kubernetes, 1.30).
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { applyPatch, inject, type InjectOptions, type PodLike } from '../src/engine/index.js';
import { formatDocuments, injectText, objectsOf, parseDocuments, withResults, type Documents } from '../src/cli/manifests.js';
import { asStoredAnnotations, type ManifestResult } from '../src/engine/manifest.js';
import { findPodTemplate } from '../src/engine/pod-template.js';
import { engineOptions } from '../src/cli/common.js';
import { failedRun } from '../src/cli/inject.js';
import { podFromTemplate } from './helpers/controller-pod.js';
import { testCatalog } from './helpers/catalog.js';
import { podSchemaErrors } from './helpers/pod-schema.js';
import { goldenWebhookDenial, goldenWebhookLeg } from './helpers/webhook-leg.js';

// Two folders of cases: test/golden/ and the user-facing examples/, one per built-in template,
// whose expected output lives in test/golden/examples/.
const folders = [
  { inputDir: fileURLToPath(new URL('./golden/', import.meta.url)), expectedDir: fileURLToPath(new URL('./golden/', import.meta.url)) },
  {
    inputDir: fileURLToPath(new URL('../examples/', import.meta.url)),
    expectedDir: fileURLToPath(new URL('./golden/examples/', import.meta.url)),
  },
];
const update = process.env['PODPATTERN_UPDATE_GOLDEN'] === '1';
const catalog = testCatalog();
const cases = folders.flatMap(({ inputDir, expectedDir }) =>
  readdirSync(inputDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({
      name: inputDir.includes('examples') ? `examples/${f}` : f,
      input: join(inputDir, f),
      expected: join(expectedDir, `${f}.injected`),
    })),
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
    t.match(
      asked,
      new RegExp(`podpattern\\.dev/(sidecar|ambassador|adapter): .*\\b${template.name}\\b`),
      `a case asks for ${template.name}`,
    );
  }
});

for (const { name, input, expected: expectedPath } of cases) {
  t.test(name, async (t) => {
    const text = readFileSync(input, 'utf8');
    const options = readOptions(text);
    const { documents, results } = injectText(text, catalog, options);
    const actual = render(documents, results);
    if (update) {
      mkdirSync(dirname(expectedPath), { recursive: true });
      writeFileSync(expectedPath, actual);
    }
    t.ok(existsSync(expectedPath), `${expectedPath} exists (run npm run golden:update)`);
    if (existsSync(expectedPath)) t.equal(actual, readFileSync(expectedPath, 'utf8'), 'output matches the golden file');
    if (!results.some(failedRun)) checkYaml11Meaning(t, text, documents, results);

    const originals = objectsOf(parseDocuments(text));
    for (const [index, { result, label, site, options: used }] of results.entries()) {
      const found = findPodTemplate(originals[index]);
      if (site === undefined || used === undefined || !('found' in found)) continue;
      const template = asStoredAnnotations(found.template);
      const before = podFromTemplate(originals[index], template, site);
      if (result?.outcome === 'denied') await goldenWebhookDenial(t, before, result.message, used);
      if (result?.outcome !== 'injected') continue;
      t.same(applyPatch(template, result.patch), result.pod, `${label}: the patch applied to the input gives the injected pod`);
      t.equal(podSchemaErrors(asPod(result.pod)), undefined, `${label}: the injected pod passes the Pod schema`);
      const again = inject(result.pod, catalog, used);
      t.match(again, { outcome: 'skipped', reason: 'already-injected' }, `${label}: injecting the injected pod changes nothing`);
      // The webhook sees the pod, its namespace and the namespace's annotations; not the kind.
      const { runsToCompletion: _kind, controllerVolumes: _claims, podNameHint: _hint, ...webhookOptions } = used;
      await goldenWebhookLeg(t, before, podFromTemplate(originals[index], result.pod, site), webhookOptions);
    }
  });
}

function render(documents: Documents, results: ManifestResult[]): string {
  const header = results.flatMap((r) => r.warnings.map((w) => `# warning: ${w}`));
  const failed = results.flatMap((r) => {
    if (r.refusal !== undefined) return [`# refused: ${r.label}\n#   ${r.refusal}`];
    return r.result?.outcome === 'denied'
      ? [
          `# denied: ${r.label}\n${r.result.message
            .split('\n')
            .map((l) => `#   ${l}`)
            .join('\n')}`,
        ]
      : [];
  });
  const body = failed.length > 0 ? failed.join('\n') : formatDocuments(withResults(documents, results), 'yaml');
  return `${[...header, body].join('\n').trimEnd()}\n`;
}

/**
 * kubectl reads YAML 1.1. The output read as YAML 1.1, and as YAML 1.2, must be exactly what
 * the CLI meant to write; and every object podpattern did not inject must be what the input
 * meant to a YAML 1.1 reader (the yaml package's own 1.1 schema, not the CLI's reader).
 */
function checkYaml11Meaning(t: Test, text: string, documents: Documents, results: ManifestResult[]): void {
  const written = withResults(documents, results);
  const output = formatDocuments(written, 'yaml');
  const docs = (version: '1.1' | '1.2', source: string) =>
    parseAllDocuments(source, { version })
      .map((d) => d.toJS() as unknown)
      .filter((d) => d !== null);
  t.same(docs('1.1', output), written, 'the YAML output read as YAML 1.1 is what was meant');
  t.same(docs('1.2', output), written, 'and read as YAML 1.2 too');
  const input = objectsOf(docs('1.1', text));
  for (const [index, result] of results.entries()) {
    if (result.result?.outcome !== 'injected')
      t.same(result.object, input[index], `${result.label}: passed through with the meaning YAML 1.1 gives the input`);
  }
}

function readOptions(text: string): InjectOptions {
  const match = /^# options: (.*)$/m.exec(text.split('\n')[0] ?? '');
  const raw = match ? (JSON.parse(match[1] as string) as Record<string, unknown>) : {};
  const annotations = (raw['namespaceAnnotations'] ?? {}) as Record<string, string>;
  return engineOptions({
    ...(typeof raw['nativeSidecars'] === 'string' ? { 'native-sidecars': raw['nativeSidecars'] } : {}),
    ...(typeof raw['kubeVersion'] === 'string' ? { 'kube-version': raw['kubeVersion'] } : {}),
    ...(typeof raw['namespace'] === 'string' ? { namespace: raw['namespace'] } : {}),
    'namespace-annotation': Object.entries(annotations).map(([k, v]) => `${k}=${v}`),
  });
}

/** A pod template validated as a Pod: give it the kind and a name when it has none. */
function asPod(pod: PodLike): unknown {
  return { ...pod, apiVersion: 'v1', kind: 'Pod', metadata: { name: 'golden', ...pod.metadata } };
}
