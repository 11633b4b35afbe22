// The compiled review of PatternPolicy writes (src/policy/policy-review.ts), its CEL evaluated with
// @marcbachmann/cel-js (the API server runs cel-go on the same expressions): for a policy that
// narrows a template, it refuses what the webhook's review (catalog/policy.ts judgePolicy)
// refuses of that template's narrowing, in its words, and admits what the webhook admits.
import t from 'tap';
import fc from 'fast-check';
import { parse, type ParseResult } from '@marcbachmann/cel-js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { judgePolicy } from '../../src/catalog/policy.js';
import { invalid } from '../../src/admission/template-review.js';
import { compileTemplate } from '../../src/policy/index.js';
import { policyReviewName } from '../../src/policy/policy-review.js';
import type { Template } from '../../src/model/template.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);
const NAMESPACE = 'shop';

interface Review {
  spec: {
    matchConstraints: { resourceRules: { apiGroups: string[]; resources: string[]; operations: string[] }[] };
    matchConditions: { expression: string }[];
    variables: { name: string; expression: string }[];
    validations: { expression: string; messageExpression: string; reason: string }[];
  };
}

const reviews = new Map<string, Review>();

/** The template's review, compiled once: compiling a template builds all its policies. */
function review(template: Template): Review {
  const known = reviews.get(template.name);
  if (known !== undefined) return known;
  const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  const found = compiled.objects.find(
    (o) => o.kind === 'ValidatingAdmissionPolicy' && (o.metadata as { name: string }).name === policyReviewName(template.name),
  );
  if (found === undefined) throw new Error(`${template.name} compiles to no review`);
  reviews.set(template.name, found as unknown as Review);
  return found as unknown as Review;
}

const programs = new Map<string, ParseResult>();

/** An expression evaluated, parsed once (the property runs the same few hundred times). */
function evaluate(expression: string, context: Record<string, unknown>): unknown {
  let program = programs.get(expression);
  if (program === undefined) {
    program = parse(expression);
    programs.set(expression, program);
  }
  return program(context);
}

/** JSON numbers as the API server hands them to CEL: a whole number an int (ints: true), else a double. */
function asCel(value: unknown, ints: boolean): unknown {
  if (typeof value === 'number') return ints && Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map((v) => asCel(v, ints));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asCel(v, ints)]));
  return value;
}

/** The review's answer to a PatternPolicy write: its message, or undefined when it does not apply or admits. */
function reviewDenial(template: Template, object: unknown, ints = true): string | undefined {
  const policy = review(template);
  const context: Record<string, unknown> = { object: asCel(object, ints), request: { namespace: NAMESPACE } };
  if (!policy.spec.matchConditions.every((c) => evaluate(c.expression, context) === true)) return undefined;
  const variables: Record<string, unknown> = {};
  for (const v of policy.spec.variables) variables[v.name] = evaluate(v.expression, { ...context, variables });
  const [check] = policy.spec.validations;
  if (check === undefined) throw new Error('no validation');
  const full = { ...context, variables };
  return evaluate(check.expression, full) === true ? undefined : String(evaluate(check.messageExpression, full));
}

function patternPolicy(narrow: Record<string, unknown>): unknown {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternPolicy',
    metadata: { name: 'default', namespace: NAMESPACE },
    spec: { narrow },
  };
}

/** The webhook's problems with one template's narrowing, without its "did you mean" suggestions (docs/policy.md). */
function webhookProblems(object: unknown, template: string): string[] {
  const judged = judgePolicy(object, catalog, NAMESPACE);
  return judged.ok
    ? []
    : judged.problems.filter((p) => p.startsWith(`spec.narrow.${template}`)).map((p) => p.replace(/ \(did you mean [^)]*\?\)/, ''));
}

/** The review's problems, split back out of its one-line message. */
function reviewProblems(message: string | undefined): string[] {
  if (message === undefined) return [];
  const body = message.replace(/^podpattern's catalog refuses PatternPolicy shop\/default( \(\d+ problems\))?: /, '');
  return body.split(' - ');
}

const get = (name: string): Template => catalog.get(name) as Template;

t.test('the review is bound to PatternPolicy writes and applies only to a policy that narrows its template', async (t) => {
  const policy = review(get('https-proxy'));
  t.same(policy.spec.matchConstraints.resourceRules, [
    { apiGroups: ['podpattern.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['patternpolicies'] },
  ]);
  t.equal(policy.spec.validations[0]?.reason, 'Invalid', "a 422, as the webhook's review");
  t.equal(
    reviewDenial(get('https-proxy'), patternPolicy({ 'log-normalizer': { format: { enum: ['json'] } } })),
    undefined,
    'another template',
  );
  t.equal(
    reviewDenial(get('https-proxy'), { ...(patternPolicy({}) as object), spec: { forbid: ['git-sync'] } }),
    undefined,
    'no narrowing',
  );
});

t.test("a widening is refused in the webhook's words, on one line", async (t) => {
  const object = patternPolicy({ 'https-proxy': { 'upstream-port': { maximum: 70000 } } });
  const judged = judgePolicy(object, catalog, NAMESPACE);
  t.notOk(judged.ok);
  const webhook = invalid('uid', `PatternPolicy ${NAMESPACE}/default`, judged.ok ? [] : judged.problems).status?.message as string;
  t.equal(reviewDenial(get('https-proxy'), object), webhook.split('\n- ').join(' - '));
  t.match(webhook, /spec\.narrow\.https-proxy\.upstream-port\.maximum: 70000 is wider than the template's maximum 65535/);
  t.equal(reviewDenial(get('https-proxy'), object, false), webhook.split('\n- ').join(' - '), 'the bound as a double too');
  const narrower = patternPolicy({ 'https-proxy': { 'upstream-port': { minimum: 9000, maximum: 9100 } } });
  t.equal(reviewDenial(get('https-proxy'), narrower), undefined, 'a narrowing is admitted');
});

t.test('every problem of the narrowing at once, as the webhook lists them', async (t) => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['an unknown parameter', 'https-proxy', { 'upstream-prot': { maximum: 9000 } }],
    ['bounds wider on both sides', 'https-proxy', { 'upstream-port': { minimum: 0, maximum: 65536 } }],
    ['a minimum above the maximum', 'https-proxy', { 'upstream-port': { minimum: 9100, maximum: 9000 } }],
    ['a minimum above the template maximum', 'redis-exporter', { port: { minimum: 70000 } }],
    ['a fraction for an integer', 'https-proxy', { 'listen-port': { minimum: 2000.5 } }],
    ['minimum on a string', 'log-normalizer', { format: { minimum: 1 } }],
    ['a pattern on an integer', 'https-proxy', { 'upstream-port': { pattern: '^8.*$' } }],
    ['enum values the template refuses', 'log-normalizer', { format: { enum: ['json', 'xml', 3] } }],
    ['enum values out of the bounds', 'storm-logs', { window: { enum: [600, 700] }, interval: { enum: [1, 60, 4000, 7.5] } }],
    ['a long enum value', 'log-normalizer', { files: { enum: ['x'.repeat(101)] } }],
    ['an unanchored pattern alone', 'log-normalizer', { 'log-dir': { pattern: '/var/log' } }],
    ['everything together', 'https-proxy', { nope: {}, 'upstream-port': { minimum: 0, enum: ['80'] }, 'tls-secret': { maximum: 3 } }],
  ];
  for (const [label, name, narrowing] of cases) {
    const object = patternPolicy({ [name]: narrowing });
    const expected = webhookProblems(object, name);
    t.ok(expected.length > 0, `${label}: the webhook refuses it`);
    const message = reviewDenial(get(name), object);
    t.same(reviewProblems(message).sort(), [...expected].sort(), `${label}: ${expected.join(' | ')}`);
    t.equal(reviewDenial(get(name), object, false), message, `${label}: whole numbers as doubles give the same answer`);
  }
});

t.test('any narrowing of any built-in: the review refuses exactly what the webhook refuses of it', async (t) => {
  const templates = catalog.list();
  const names = templates.map((x) => x.name);
  const scalarValue = fc.oneof(
    fc.integer({ min: -10, max: 70000 }),
    fc.constantFrom('json', 'none', 'x', '/srv/git', 'HEAD'),
    fc.boolean(),
  );
  const bounds = fc.record(
    {
      minimum: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.constantFrom(0.5, 100.25)),
      maximum: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.constantFrom(0.5, 100.25)),
      enum: fc.array(scalarValue, { minLength: 1, maxLength: 4 }),
      pattern: fc.constantFrom('^[a-z]+$', '^/var/.*$', '^(json|none)$'),
    },
    { requiredKeys: [] },
  );
  let refused = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...names),
      fc.integer({ min: 0, max: 100 }),
      fc.array(bounds, { minLength: 1, maxLength: 3 }),
      (name, seed, list) => {
        const template = catalog.get(name) as Template;
        const parameters = [...Object.keys(template.spec.parameters), 'unknown-one'];
        const narrowing = Object.fromEntries(list.map((b, i) => [parameters[(seed + i) % parameters.length] as string, b]));
        const object = patternPolicy({ [name]: narrowing });
        const expected = webhookProblems(object, name).sort();
        const got = reviewProblems(reviewDenial(template, object)).sort();
        if (expected.length > 0) refused += 1;
        if (JSON.stringify(got) !== JSON.stringify(expected))
          throw new Error(`${JSON.stringify(narrowing)} of ${name}: review ${JSON.stringify(got)}, webhook ${JSON.stringify(expected)}`);
      },
    ),
    { numRuns: 400 },
  );
  t.ok(refused > 50, `${refused} of 400 refused: the property saw refusals as well as admissions`);
});
