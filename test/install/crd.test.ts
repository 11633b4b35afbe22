// The PatternTemplate CRD: its YAML copies match src/catalog/crd-schema.ts, it is a valid,
// structural CRD, and every built-in template passes its schema, checked by the catalog's own
// structural check (src/catalog/schema.ts: ajv over the CRD schema, unknown fields refused where
// the API server would prune them, CEL rules evaluated with @marcbachmann/cel-js).
//
// PODPATTERN_UPDATE_GOLDEN=1 rewrites the YAML copies from crd-schema.ts.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { PARAMETER_NAME_PATTERN, patternTemplateCrd, patternTemplateSchema } from '../../src/catalog/crd-schema.js';
import { schemaProblems } from '../../src/catalog/schema.js';
import { patternPolicyCrd, patternPolicySchema } from '../../src/catalog/policy-schema.js';
import { chartDir, repoRoot, validateObject, webhookConfigDir, type K8sObject } from './helpers.js';

const crdFiles = [join(chartDir, 'files', 'patterntemplates.podpattern.dev.yaml'), join(webhookConfigDir, 'crd.yaml')];
const header =
  '# Generated from src/catalog/crd-schema.ts: edit that file, then run\n' +
  '#   PODPATTERN_UPDATE_GOLDEN=1 npx tap test/install/crd.test.ts\n';
const rendered = header + stringify(patternTemplateCrd, { lineWidth: 0 });
const policyFiles = [join(chartDir, 'files', 'patternpolicies.podpattern.dev.yaml'), join(webhookConfigDir, 'policy-crd.yaml')];
const policyRendered = header.replace('crd-schema.ts', 'policy-schema.ts') + stringify(patternPolicyCrd, { lineWidth: 0 });

t.test('the CRD YAML files are renderings of crd-schema.ts and policy-schema.ts', async (t) => {
  for (const [files, text] of [
    [crdFiles, rendered],
    [policyFiles, policyRendered],
  ] as const) {
    for (const file of files) {
      if (process.env.PODPATTERN_UPDATE_GOLDEN === '1') writeFileSync(file, text);
      t.equal(readFileSync(file, 'utf8'), text, `${file.slice(repoRoot.length + 1)} is up to date`);
    }
  }
});

t.test(
  'the CRDs are valid CustomResourceDefinitions of podpattern.dev/v1alpha1: PatternTemplate cluster-scoped, PatternPolicy namespaced',
  async (t) => {
    for (const [text, name, scope, names] of [
      [
        rendered,
        'patterntemplates.podpattern.dev',
        'Cluster',
        { kind: 'PatternTemplate', plural: 'patterntemplates', shortNames: ['ptpl'] },
      ],
      [
        policyRendered,
        'patternpolicies.podpattern.dev',
        'Namespaced',
        { kind: 'PatternPolicy', plural: 'patternpolicies', shortNames: ['ppol'] },
      ],
    ] as const) {
      const crd = parse(text) as K8sObject;
      t.same(await validateObject(crd), []);
      t.equal(crd.metadata.name, name);
      t.equal(crd.spec.scope, scope);
      t.match(crd.spec.names, names);
      t.match(crd.spec.versions, [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }]);
    }
  },
);

/** A structural schema (what apiextensions.k8s.io/v1 demands): every node typed unless preserved. */
function structuralProblems(schema: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  if (
    schema.type === undefined &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true &&
    schema['x-kubernetes-int-or-string'] !== true
  ) {
    problems.push(`${path}: no type`);
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'propertyNames', 'dependentRequired']) {
    if (keyword in schema) problems.push(`${path}: ${keyword} is not allowed here`);
  }
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(properties)) problems.push(...structuralProblems(child, `${path}.${key}`));
  if (typeof schema.additionalProperties === 'object')
    problems.push(...structuralProblems(schema.additionalProperties as Record<string, unknown>, `${path}[*]`));
  if (typeof schema.items === 'object') problems.push(...structuralProblems(schema.items as Record<string, unknown>, `${path}[]`));
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: an array without items`);
  return problems;
}

t.test('the schemas are structural', async (t) => {
  t.same(structuralProblems(patternTemplateSchema, 'openAPIV3Schema'), []);
  t.same(structuralProblems(patternPolicySchema, 'openAPIV3Schema'), []);
});

/** Every problem with one PatternTemplate object: the catalog's structural check, then parameter names. */
function templateProblems(object: K8sObject): string[] {
  const problems = schemaProblems(object);
  for (const name of Object.keys(object.spec?.parameters ?? {})) {
    if (!new RegExp(PARAMETER_NAME_PATTERN).test(name))
      problems.push(`spec.parameters.${name}: parameter names must match ${PARAMETER_NAME_PATTERN}`);
  }
  return problems;
}

t.test('every built-in template is valid under the CRD schema', async (t) => {
  const dir = join(repoRoot, 'src', 'catalog', 'builtin');
  const files = readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  t.ok(files.length > 0, `src/catalog/builtin has template files (found ${files.length})`);
  const names: string[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    for (const doc of docs) {
      t.same(
        doc.errors.map((e) => e.message),
        [],
        `${file} parses`,
      );
      const object = JSON.parse(JSON.stringify(doc.toJS())) as K8sObject | null;
      if (object === null) continue;
      names.push(object.metadata?.name);
      t.same(templateProblems(object), [], `${file}: ${object.metadata?.name} is valid`);
    }
  }
  t.equal(new Set(names).size, names.length, `no template name is used twice (${names.join(', ')})`);
});

t.test('the schema check catches what the API server would refuse or prune', async (t) => {
  const good = {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'demo' },
    spec: {
      pattern: 'sidecar',
      description: 'A demo.',
      parameters: { port: { type: 'integer', default: 8080, minimum: 1, maximum: 65535 } },
      containers: [{ name: 'demo', image: 'nginx:1.27', ports: [{ containerPort: 8443 }] }],
      files: { 'a.conf': 'listen $(params.port);' },
      app: { env: [{ name: 'A', value: 'b' }] },
    },
  } as K8sObject;
  t.same(templateProblems(good), [], 'a good template passes (container fields are preserved)');

  const cases: Array<[string, (o: K8sObject) => void, RegExp]> = [
    ['an unknown pattern', (o) => (o.spec.pattern = 'sidekick'), /spec.pattern: must be one of sidecar, ambassador, adapter/],
    ['a misspelt spec field', (o) => (o.spec.initcontainers = []), /spec: unknown field 'initcontainers'/],
    ['a container without an image', (o) => delete o.spec.containers[0].image, /missing required field 'image'/],
    ['a port without a containerPort', (o) => delete o.spec.containers[0].ports[0].containerPort, /missing required field 'containerPort'/],
    [
      'an unknown parameter type',
      (o) => (o.spec.parameters.port.type = 'float'),
      /spec.parameters.port.type: must be one of string, integer, number, boolean/,
    ],
    ['minimum above maximum', (o) => (o.spec.parameters.port.minimum = 70000), /minimum must not be greater than maximum/],
    ['an upper-case parameter name', (o) => (o.spec.parameters.Port = { type: 'string' }), /parameter names must match/],
    ['a name that is not a DNS label', (o) => (o.metadata.name = 'Demo.Proxy'), /the name must be a DNS label/],
    ['a non-string file', (o) => (o.spec.files['a.conf'] = 42), /spec.files.a.conf: must be string/],
    ['no description', (o) => delete o.spec.description, /missing required field 'description'/],
  ];
  for (const [label, change, expected] of cases) {
    const bad = structuredClone(good);
    change(bad);
    t.match(templateProblems(bad).join('\n'), expected, label);
  }
});
