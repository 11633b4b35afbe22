// Templates are validated once, at load, and refused whole with every problem and its path.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { buildCatalog, loadCatalogDir, parseTemplates } from '../../src/catalog/index.js';
import { inject } from '../../src/engine/index.js';
import { fixtureCatalogDir } from '../helpers/catalog.js';

const brokenDir = fileURLToPath(new URL('../fixtures/broken/', import.meta.url));

t.test('a broken template is refused with every problem at once', async (t) => {
  const { templates, failures } = loadCatalogDir(brokenDir);
  t.equal(templates.length, 0, 'nothing half-loads');
  const wrong = failures.find((f) => f.name === 'everything-wrong');
  t.ok(wrong);
  t.same(wrong?.problems.length, 9, 'nine problems found');
  for (const expected of [
    /spec: unknown field 'unexpected'/,
    /spec.pattern: must be one of sidecar, ambassador, adapter/,
    /spec.parameters.Bad.Name: parameter names/,
    /spec.parameters.unbounded: a string parameter needs an enum or an anchored pattern/,
    /spec.parameters.port.default: must be at most 65535/,
    /spec.containers\[1\].name: 'dup' is also the name of spec.containers\[0\]/,
    /spec.containers\[0\].image: \$\(params.loose-image\) sets an image/,
    /spec.containers\[0\].args\[0\]: \$\(params.missing\) names an undeclared parameter/,
    /spec.containers\[0\].args\[1\]: '\$\(params.port' is not a placeholder/,
  ]) {
    t.ok(
      wrong?.problems.some((p) => expected.test(p)),
      `reports ${expected}`,
    );
  }
  const placeholders = failures.find((f) => f.name === 'bad-placeholders');
  t.ok(placeholders?.problems.some((p) => p.includes('placeholders may appear only in values')));
  const yaml = failures.find((f) => f.name.endsWith('#3'));
  t.match(yaml?.problems[0], /^YAML: /, 'a YAML syntax error is a failure, not a crash');
});

t.test('JSON templates and empty documents are read', async (t) => {
  const json = JSON.stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'from-json' },
    spec: { pattern: 'adapter', description: 'x', containers: [{ name: 'from-json', image: 'example.org/x:1' }] },
  });
  const parsed = parseTemplates(`---\n${json}\n---\n`, 'builtin');
  t.same(
    parsed.templates.map((x) => x.name),
    ['from-json'],
  );
  t.match(parsed.templates[0]?.hash, /^[0-9a-f]{16}$/);
});

t.test('a template with no containers, a reserved volume name or a bad file name is refused', async (t) => {
  const { failures } = parseTemplates(
    `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: empty }
spec:
  pattern: sidecar
  description: nothing
  volumes: [{ name: empty-files, emptyDir: {} }]
  files: { "bad name": "x", ok.conf: "y" }
`,
    'builtin',
  );
  const problems = failures[0]?.problems ?? [];
  t.ok(problems.some((p) => p.includes('declares no containers')));
  t.ok(problems.some((p) => p.includes("'empty-files' is reserved")));
  t.ok(problems.some((p) => p.startsWith('spec.files.bad name')));
});

t.test('later layers override by name; a broken newer version keeps the last good one', async (t) => {
  const good = loadCatalogDir(fixtureCatalogDir);
  const broken = parseTemplates(
    `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: demo-adapter }
spec: { pattern: adapter, description: broken, containers: [] , nonsense: 1 }
`,
    'cluster',
  );
  const catalog = buildCatalog([good, broken]);
  t.equal(catalog.get('demo-adapter')?.source.startsWith('file:'), true, 'the good version stays');
  t.equal(catalog.failure('demo-adapter')?.source, 'cluster', 'the failure is remembered');
  const pod = {
    metadata: { annotations: { 'podpattern.dev/adapter': 'demo-adapter' } },
    spec: { containers: [{ name: 'app', image: 'x' }] },
  };
  const result = inject(pod, catalog, { nativeSidecars: 'never' });
  t.equal(result.outcome, 'injected');
  t.match(result.warnings.join('\n'), /newest version of template demo-adapter \(cluster\) is invalid; the last good one is used/);

  const onlyBroken = buildCatalog([broken]);
  const denied = inject(pod, onlyBroken, { nativeSidecars: 'never' });
  t.match(denied, { outcome: 'denied', reason: 'template-invalid', message: /template demo-adapter \(cluster\) is invalid/ });
});
