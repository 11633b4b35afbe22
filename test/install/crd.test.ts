// The PatternTemplate CRD: its YAML copies match src/catalog/crd-schema.ts, it is a valid,
// structural CRD, and every built-in template passes its schema, checked with ajv the way the
// API server would (unknown fields count as errors, because the API server would silently
// prune them; CEL rules are evaluated with @marcbachmann/cel-js).
//
// PODPATTERN_UPDATE_GOLDEN=1 rewrites the YAML copies from crd-schema.ts.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluate } from '@marcbachmann/cel-js';
import { Ajv, type ValidateFunction } from 'ajv';
import t from 'tap';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { PARAMETER_NAME_PATTERN, patternTemplateCrd, patternTemplateSchema } from '../../src/catalog/crd-schema.js';
import { chartDir, repoRoot, validateObject, webhookConfigDir, type K8sObject } from './helpers.js';

const crdFiles = [join(chartDir, 'files', 'patterntemplates.podpattern.dev.yaml'), join(webhookConfigDir, 'crd.yaml')];
const header =
  '# Generated from src/catalog/crd-schema.ts: edit that file, then run\n' +
  '#   PODPATTERN_UPDATE_GOLDEN=1 npx tap test/install/crd.test.ts\n';
const rendered = header + stringify(patternTemplateCrd, { lineWidth: 0 });

t.test('the CRD YAML files are renderings of crd-schema.ts', async (t) => {
  for (const file of crdFiles) {
    if (process.env.PODPATTERN_UPDATE_GOLDEN === '1') writeFileSync(file, rendered);
    t.equal(readFileSync(file, 'utf8'), rendered, `${file.slice(repoRoot.length + 1)} is up to date`);
  }
});

t.test('the CRD is a valid CustomResourceDefinition named podpattern.dev/v1alpha1 PatternTemplate, cluster-scoped', async (t) => {
  const crd = parse(rendered) as K8sObject;
  t.same(await validateObject(crd), []);
  t.equal(crd.metadata.name, 'patterntemplates.podpattern.dev');
  t.equal(crd.spec.scope, 'Cluster');
  t.match(crd.spec.names, { kind: 'PatternTemplate', plural: 'patterntemplates', shortNames: ['ptpl'] });
  t.match(crd.spec.versions, [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }]);
});

/** A structural schema (what apiextensions.k8s.io/v1 demands): every node typed unless preserved. */
function structuralProblems(schema: Record<string, unknown>, path: string): string[] {
  const problems: string[] = [];
  if (schema.type === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true && schema['x-kubernetes-int-or-string'] !== true) {
    problems.push(`${path}: no type`);
  }
  for (const keyword of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'propertyNames', 'dependentRequired']) {
    if (keyword in schema) problems.push(`${path}: ${keyword} is not allowed here`);
  }
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(properties)) problems.push(...structuralProblems(child, `${path}.${key}`));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralProblems(schema.additionalProperties as Record<string, unknown>, `${path}[*]`));
  if (typeof schema.items === 'object') problems.push(...structuralProblems(schema.items as Record<string, unknown>, `${path}[]`));
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: an array without items`);
  return problems;
}

t.test('the schema is structural', async (t) => {
  t.same(structuralProblems(patternTemplateSchema, 'openAPIV3Schema'), []);
});

/** The schema as the API server applies it: objects with declared properties and no preserve flag prune (here: reject) the rest. */
function withPruningAsErrors(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withPruningAsErrors);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'x-kubernetes-validations' ? v : withPruningAsErrors(v)]));
  if (copy.type === 'object' && copy.properties !== undefined && copy['x-kubernetes-preserve-unknown-fields'] !== true && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

function compileTemplateValidator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true, formats: { 'date-time': true, int64: true } });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    errors: true,
    compile(rules: Array<{ rule: string; message: string }>) {
      // The API server evaluates these with cel-go; cel-js implements the same standard functions.
      const validate = (data: unknown): boolean => {
        const failed = rules.filter(({ rule }) => evaluate(rule, { self: data }) !== true);
        (validate as unknown as { errors: unknown[] }).errors = failed.map(({ message }) => ({ keyword: 'x-kubernetes-validations', message, params: {} }));
        return failed.length === 0;
      };
      return validate;
    },
  });
  return ajv.compile(withPruningAsErrors(patternTemplateSchema) as object);
}

const validateTemplate = compileTemplateValidator();

/** Every problem with one PatternTemplate object, as "path message". */
function templateProblems(object: K8sObject): string[] {
  const problems: string[] = [];
  if (object.apiVersion !== 'podpattern.dev/v1alpha1') problems.push(`apiVersion must be podpattern.dev/v1alpha1, not ${object.apiVersion}`);
  if (object.kind !== 'PatternTemplate') problems.push(`kind must be PatternTemplate, not ${object.kind}`);
  if (!validateTemplate(object)) {
    for (const error of validateTemplate.errors ?? []) {
      const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params.additionalProperty)}: the API server would drop it)` : '';
      problems.push(`${error.instancePath || '/'} ${error.message ?? error.keyword}${extra}`);
    }
  }
  for (const name of Object.keys(object.spec?.parameters ?? {})) {
    if (!new RegExp(PARAMETER_NAME_PATTERN).test(name)) problems.push(`/spec/parameters/${name}: parameter names must match ${PARAMETER_NAME_PATTERN}`);
  }
  return problems;
}

t.test('every built-in template is valid under the CRD schema', async (t) => {
  const dir = join(repoRoot, 'src', 'catalog', 'builtin');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  t.ok(files.length > 0, `src/catalog/builtin has template files (found ${files.length})`);
  const names: string[] = [];
  for (const file of files) {
    const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
    for (const doc of docs) {
      t.same(doc.errors.map((e) => e.message), [], `${file} parses`);
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
    ['an unknown pattern', (o) => (o.spec.pattern = 'sidekick'), /\/spec\/pattern must be equal to one of the allowed values/],
    ['a misspelt spec field', (o) => (o.spec.initcontainers = []), /initcontainers: the API server would drop it/],
    ['a container without an image', (o) => delete o.spec.containers[0].image, /must have required property 'image'/],
    ['an unknown parameter type', (o) => (o.spec.parameters.port.type = 'float'), /\/spec\/parameters\/port\/type must be equal to one of the allowed values/],
    ['minimum above maximum', (o) => (o.spec.parameters.port.minimum = 70000), /minimum must not be greater than maximum/],
    ['an upper-case parameter name', (o) => (o.spec.parameters.Port = { type: 'string' }), /parameter names must match/],
    ['a name that is not a DNS label', (o) => (o.metadata.name = 'Demo.Proxy'), /the name must be a DNS label/],
    ['a non-string file', (o) => (o.spec.files['a.conf'] = 42), /\/spec\/files\/a.conf must be string/],
    ['no description', (o) => delete o.spec.description, /must have required property 'description'/],
  ];
  for (const [label, change, expected] of cases) {
    const bad = structuredClone(good);
    change(bad);
    t.match(templateProblems(bad).join('\n'), expected, label);
  }
});
