// One schema for every route a template takes: the same edge cases go in as built-in files, as
// --catalog-dir files, as cluster objects through the live catalog (driven by a fake informer)
// and as PatternTemplate writes to the template admission review, and every route gives the same
// verdict with the same problems. Each case also states the verdict it must get, so a route that
// accepts or refuses everything fails here.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { V1Namespace } from '#kube';
import { stringify } from 'yaml';
import { decideTemplate } from '../../src/admission/template-review.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import { ClusterWatch } from '../../src/catalog/cluster.js';
import { buildCatalog, loadBuiltinTemplates, loadStaticLayers } from '../../src/catalog/index.js';
import { LiveCatalog } from '../../src/catalog/live.js';
import type { TemplateObject } from '../../src/catalog/template-watch.js';
import type { Catalog } from '../../src/model/template.js';
import { FakeInformer } from '../helpers/fake-informer.js';

type Spec = Record<string, unknown>;
interface Case {
  label: string;
  accepted: boolean;
  /** For a refused case: a problem that must be among the reasons. */
  problem?: RegExp;
  object: Record<string, unknown>;
}

const container = (name: string): Spec => ({ name, image: 'example.org/c:1' });
const bounded = { type: 'integer', minimum: 1, maximum: 65535 };

function templateNamed(name: string, spec: Spec = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name },
    spec: { pattern: 'sidecar', description: 'An edge case.', containers: [container('c')], ...spec },
    ...extra,
  };
}

let counter = 0;
/** A template with a unique valid name. */
function template(spec: Spec = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return templateNamed(`case-${counter}`, spec, extra);
}

const manyParameters = (n: number): Spec => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, bounded]));

const cases: Case[] = [
  { label: 'a minimal template', accepted: true, object: template() },
  { label: 'a name of 63 characters', accepted: true, object: templateNamed('n'.repeat(63)) },
  { label: 'a name of 64 characters', accepted: false, problem: /the name must be a DNS label/, object: templateNamed('m'.repeat(64)) },
  { label: 'a name with a dot', accepted: false, problem: /the name must be a DNS label/, object: templateNamed('dotted.name') },
  { label: 'an upper-case name', accepted: false, problem: /the name must be a DNS label/, object: templateNamed('Upper') },
  { label: 'a parameter name of 63 characters', accepted: true, object: template({ parameters: { ['q'.repeat(63)]: bounded } }) },
  {
    label: 'a parameter name of 64 characters',
    accepted: false,
    problem: /parameter names are lower-case words/,
    object: template({ parameters: { ['q'.repeat(64)]: bounded } }),
  },
  {
    label: 'an upper-case parameter name',
    accepted: false,
    problem: /parameter names are lower-case words/,
    object: template({ parameters: { Port: bounded } }),
  },
  {
    label: 'minimum equal to maximum',
    accepted: true,
    object: template({ parameters: { port: { type: 'integer', minimum: 5, maximum: 5 } } }),
  },
  {
    label: 'minimum above maximum',
    accepted: false,
    problem: /minimum must not be greater than maximum/,
    object: template({ parameters: { port: { type: 'integer', minimum: 6, maximum: 5 } } }),
  },
  { label: '32 parameters, the most allowed', accepted: true, object: template({ parameters: manyParameters(32) }) },
  {
    label: '33 parameters',
    accepted: false,
    problem: /spec.parameters: must NOT have more than 32 properties/,
    object: template({ parameters: manyParameters(33) }),
  },
  {
    label: 'a default above the maximum',
    accepted: false,
    problem: /default: must be at most 65535/,
    object: template({ parameters: { port: { ...bounded, default: 70000 } } }),
  },
  {
    label: 'a string parameter with no bound',
    accepted: false,
    problem: /needs an enum or an anchored pattern/,
    object: template({ parameters: { mode: { type: 'string' } } }),
  },
  {
    label: 'an unanchored pattern',
    accepted: false,
    problem: /must be anchored/,
    object: template({ parameters: { mode: { type: 'string', pattern: '[a-z]+' } } }),
  },
  {
    label: 'maxLength 0',
    accepted: false,
    problem: /maxLength: must be >= 1/,
    object: template({ parameters: { mode: { type: 'string', pattern: '^[a-z]+$', maxLength: 0 } } }),
  },
  {
    label: 'an empty description',
    accepted: false,
    problem: /spec.description: must NOT have fewer than 1 characters/,
    object: template({ description: '' }),
  },
  { label: 'an unknown spec field', accepted: false, problem: /spec: unknown field 'sidecars'/, object: template({ sidecars: [] }) },
  {
    label: 'an unknown parameter field',
    accepted: false,
    problem: /unknown field 'min'/,
    object: template({ parameters: { port: { ...bounded, min: 1 } } }),
  },
  {
    label: 'an unknown app field',
    accepted: false,
    problem: /spec.app: unknown field 'envFrom'/,
    object: template({ app: { envFrom: [] } }),
  },
  { label: 'an unknown top-level field (the cluster would drop it)', accepted: true, object: template({}, { extra: true }) },
  {
    label: 'Kubernetes fields inside a container',
    accepted: true,
    object: template({ containers: [{ ...container('c'), resources: { limits: { cpu: '100m' } } }] }),
  },
  {
    label: 'a port without a containerPort',
    accepted: false,
    problem: /missing required field 'containerPort'/,
    object: template({ containers: [{ ...container('c'), ports: [{ name: 'http' }] }] }),
  },
  {
    label: 'a containerPort from a bounded parameter',
    accepted: true,
    object: template({ parameters: { port: bounded }, containers: [{ ...container('c'), ports: [{ containerPort: '$(params.port)' }] }] }),
  },
  {
    label: 'a placeholder naming no parameter',
    accepted: false,
    problem: /names an undeclared parameter/,
    object: template({ containers: [{ ...container('c'), args: ['$(params.nope)'] }] }),
  },
  { label: 'a files volume name of 63 characters', accepted: true, object: templateNamed('f'.repeat(57), { files: { 'a.conf': 'x' } }) },
  {
    label: 'a files volume name of 64 characters',
    accepted: false,
    problem: /too long for its files volume/,
    object: templateNamed('g'.repeat(58), { files: { 'a.conf': 'x' } }),
  },
  {
    label: 'another apiVersion',
    accepted: false,
    problem: /apiVersion: must be "podpattern.dev\/v1alpha1"/,
    object: template({}, { apiVersion: 'podpattern.dev/v1' }),
  },
];

interface Verdict {
  accepted: boolean;
  problems: string[];
}

const nameOf = (c: Case): string => (c.object.metadata as { name: string }).name;

function verdictIn(catalog: Catalog, name: string): Verdict {
  return { accepted: catalog.get(name) !== undefined, problems: catalog.failure(name)?.problems ?? [] };
}

function writeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-one-schema-'));
  cases.forEach((c, i) => writeFileSync(join(dir, `${String(i).padStart(2, '0')}.yaml`), stringify(c.object)));
  return dir;
}

t.test('every case has its own name', async (t) => {
  t.equal(new Set(cases.map(nameOf)).size, cases.length);
});

t.test('built-in, --catalog-dir, cluster and admission review routes give the same verdicts', async (t) => {
  const dir = writeDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const builtin = buildCatalog([loadBuiltinTemplates(dir)]);
  // The --catalog-dir layer as serve and the CLI load it, over the real built-in templates.
  const files = buildCatalog(loadStaticLayers(dir));

  const templates = new FakeInformer<TemplateObject>();
  const namespaces = new FakeInformer<V1Namespace>();
  const live = new LiveCatalog({ base: [], debounceMs: 600_000 });
  const watch = new ClusterWatch({ templates, namespaces, live, logger: pino({ level: 'silent' }), writeCondition: async () => undefined });
  t.teardown(() => watch.stop());
  templates.list(
    cases.map((c) => ({ ...structuredClone(c.object), metadata: { ...(c.object.metadata as object), uid: 'u', resourceVersion: '1' } })),
  );
  const cluster = live.current();

  for (const c of cases) {
    const name = nameOf(c);
    const expected = verdictIn(builtin, name);
    t.equal(
      expected.accepted,
      c.accepted,
      `${c.label}: ${c.accepted ? 'accepted' : 'refused'} as a built-in template${expected.accepted === c.accepted ? '' : ` (${expected.problems.join('; ')})`}`,
    );
    if (!c.accepted) t.match(expected.problems.join('\n'), c.problem ?? /./, `${c.label}: the reason is given`);
    t.same(verdictIn(files, name), expected, `${c.label}: the same from --catalog-dir`);
    t.same(verdictIn(cluster, name), expected, `${c.label}: the same from the cluster`);

    const request = {
      uid: `uid-${name}`,
      kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
      operation: 'CREATE',
      object: c.object,
    } as unknown as AdmissionRequest;
    const review = decideTemplate(request);
    t.equal(review.allowed, c.accepted, `${c.label}: the same from the template admission review`);
    for (const problem of expected.problems) t.ok(review.status?.message?.includes(problem), `${c.label}: the review names '${problem}'`);
  }
});
