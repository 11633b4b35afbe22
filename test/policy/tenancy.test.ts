// Availability and a namespace's PatternPolicy in the compiled policies, their CEL evaluated with
// @marcbachmann/cel-js (the API server runs cel-go on the same expressions): for the same pod,
// namespace and policy, the policies deny what the webhook denies, in its words, and give a
// required template the parameters the webhook gives it.
import t from 'tap';
import { catalogWithAvailableGitSync } from '../helpers/catalog.js';
import fc from 'fast-check';
import { evaluate } from '@marcbachmann/cel-js';
import { inject, type InjectionResult, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { readPolicy } from '../../src/catalog/policy.js';
import { selects } from '../../src/engine/availability.js';
import { compileTemplate, policyName } from '../../src/policy/index.js';
import { selectorExpression } from '../../src/policy/availability.js';
import { tenancyPolicyName } from '../../src/policy/tenancy.js';
import type { Catalog, LabelSelector, Template } from '../../src/model/template.js';
import { compiledObject, denialOf, matchesConditions, variablesOf, type Admission, type CompiledPolicy } from '../helpers/policy-eval.js';

const builtins = loadBuiltinTemplates();
const repo = 'https://git.example/org/site';

const catalogWith = catalogWithAvailableGitSync;

const catalog = buildCatalog([builtins]);

function pod(annotations: Record<string, string>, serviceAccountName?: string): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', annotations },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      ...(serviceAccountName === undefined ? {} : { serviceAccountName }),
    },
  };
}

function patternPolicy(namespace: string, spec: unknown): unknown {
  return { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default', namespace }, spec };
}

/** The webhook's answer for the same request. */
function webhook(p: PodLike, cat: Catalog, admission: Admission): InjectionResult {
  const namespaceLabels = { 'kubernetes.io/metadata.name': admission.namespace, ...admission.labels };
  let policy;
  if (admission.params !== undefined) {
    const read = readPolicy(admission.params, admission.namespace);
    if (!read.ok) throw new Error(read.problems.join('\n'));
    policy = read.policy;
  }
  return inject({ ...p, metadata: { ...p.metadata, namespace: admission.namespace } }, cat, {
    nativeSidecars: 'always',
    namespace: admission.namespace,
    namespaceLabels,
    serverVersion: { major: 1, minor: 37 },
    policy,
  });
}

/** The webhook's denial on one line, as a policy's message must read (docs/policy.md). */
function oneLine(result: InjectionResult): string | undefined {
  return result.outcome === 'denied' ? result.message.split('\n- ').join(' - ') : undefined;
}

const own = (template: Template, kind: string): CompiledPolicy => compiledObject(template, kind, policyName(template.name));
const tenancy = (template: Template, kind: string): CompiledPolicy => compiledObject(template, kind, tenancyPolicyName(template.name));

t.test('a label selector compiles to CEL that selects what the webhook selects', async (t) => {
  const keys = fc.constantFrom('team', 'tier', 'kubernetes.io/metadata.name');
  const values = fc.constantFrom('a', 'b', 'web', 'team-a');
  const selector = fc.record(
    {
      matchLabels: fc.dictionary(keys, values, { maxKeys: 2 }),
      matchExpressions: fc.array(
        fc.record({
          key: keys,
          operator: fc.constantFrom<'In' | 'NotIn' | 'Exists' | 'DoesNotExist'>('In', 'NotIn', 'Exists', 'DoesNotExist'),
          values: fc.array(values, { minLength: 1, maxLength: 2 }),
        }),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(selector, fc.dictionary(keys, values, { maxKeys: 3 }), (sel: LabelSelector, labels) => {
      const cel = evaluate(selectorExpression(sel, 'labels'), { labels });
      if (cel !== selects(sel, labels))
        throw new Error(`${JSON.stringify(sel)} on ${JSON.stringify(labels)}: CEL ${String(cel)}, webhook ${String(selects(sel, labels))}`);
    }),
    { numRuns: 500 },
  );
  t.pass('500 selectors');
});

t.test(
  "availability by namespace: the mutating binding selects where it is available, and the validating policy denies elsewhere in the webhook's words",
  async (t) => {
    const availability = {
      namespaceSelector: { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['legacy'] }] },
    };
    const cat = catalogWith(availability);
    const gitSync = cat.get('git-sync') as Template;
    const binding = compiledObject(gitSync, 'MutatingAdmissionPolicyBinding', policyName('git-sync')) as unknown as {
      spec: { matchResources: { namespaceSelector: LabelSelector } };
    };
    const selector = binding.spec.matchResources.namespaceSelector;
    t.same(selector.matchLabels, { team: 'a' }, "the mutating binding wants the availability's labels…");
    t.same(
      selector.matchExpressions?.map((e) => e.key),
      ['podpattern.dev/injection', 'kubernetes.io/metadata.name', 'tier'],
      '…as well as the namespaces podpattern serves',
    );
    const validatingBinding = compiledObject(gitSync, 'ValidatingAdmissionPolicyBinding', policyName('git-sync')) as unknown as {
      spec: { matchResources: { namespaceSelector: LabelSelector } };
    };
    t.equal(
      validatingBinding.spec.matchResources.namespaceSelector.matchLabels,
      undefined,
      'the validating binding stays on every namespace podpattern serves',
    );

    const asks = pod({ 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': repo });
    const where: [string, Admission][] = [
      ['team a', { namespace: 'team-a', labels: { team: 'a' } }],
      ['team b', { namespace: 'team-b', labels: { team: 'b' } }],
      ['team a, legacy tier', { namespace: 'old', labels: { team: 'a', tier: 'legacy' } }],
      ['no labels', { namespace: 'plain' }],
    ];
    for (const [label, admission] of where) {
      const expected = oneLine(webhook(asks, cat, admission));
      const selected = selects(selector, {
        'kubernetes.io/metadata.name': admission.namespace,
        'podpattern.dev/injection': 'enabled',
        ...admission.labels,
      });
      t.equal(selected, expected === undefined, `${label}: the mutating binding selects the namespace exactly where the webhook injects`);
      t.equal(denialOf(own(gitSync, 'ValidatingAdmissionPolicy'), asks, admission), expected, `${label}: ${expected ?? 'admitted'}`);
    }
  },
);

t.test("availability by ServiceAccount: both policies judge it, with the webhook's message", async (t) => {
  const cat = catalogWith({ serviceAccounts: ['deployer', 'team-b/ci'] });
  const gitSync = cat.get('git-sync') as Template;
  const annotations = { 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': repo };
  const accounts: [string | undefined, string][] = [
    ['deployer', 'team-a'],
    ['ci', 'team-b'],
    ['ci', 'team-a'],
    [undefined, 'team-a'],
    ['', 'team-b'],
  ];
  let denied = 0;
  for (const [account, namespace] of accounts) {
    const p = pod(annotations, account);
    const expected = oneLine(webhook(p, cat, { namespace }));
    if (expected !== undefined) denied += 1;
    t.equal(
      denialOf(own(gitSync, 'ValidatingAdmissionPolicy'), p, { namespace }),
      expected,
      `${account ?? '(none)'} in ${namespace}: the validating policy`,
    );
    const problems = variablesOf(own(gitSync, 'MutatingAdmissionPolicy'), p, { namespace }).problems as unknown[];
    t.equal(
      problems.length === 0,
      expected === undefined,
      `${account ?? '(none)'} in ${namespace}: the mutating policy injects only where the webhook does`,
    );
  }
  t.equal(denied, 3, 'three of the five are refused');
});

const narrowing = {
  'https-proxy': { 'upstream-port': { minimum: 9000, maximum: 9100 }, 'tls-secret': { pattern: '^web-.*$' } },
  'log-normalizer': { format: { enum: ['json', 'ltsv'] } },
};

t.test("a narrowing: any value is judged as the webhook judges it, the template's bounds first", async (t) => {
  const proxy = catalog.get('https-proxy') as Template;
  const params = patternPolicy('shop', { narrow: narrowing });
  const validating = tenancy(proxy, 'ValidatingAdmissionPolicy');
  const port = fc.oneof(fc.integer({ min: -5, max: 70000 }).map(String), fc.constantFrom('9000', '9100', '8999', '9101', '007', 'x', ''));
  const secret = fc.constantFrom('web-tls', 'tls', 'web-', 'Web-tls');
  fc.assert(
    fc.property(port, secret, (upstream, tls) => {
      const p = pod({
        'podpattern.dev/sidecar': 'https-proxy',
        'https-proxy.podpattern.dev/tls-secret': tls,
        'https-proxy.podpattern.dev/upstream-port': upstream,
      });
      const admission = { namespace: 'shop', params };
      const expected = oneLine(webhook(p, catalog, admission));
      const got = denialOf(validating, p, admission);
      if (got !== expected) throw new Error(`${upstream} ${tls}:\n policy  ${String(got)}\n webhook ${String(expected)}`);
    }),
    { numRuns: 200 },
  );
  t.pass('200 pods');
  const normalizer = catalog.get('log-normalizer') as Template;
  for (const format of ['json', 'ltsv', 'nginx', 'bogus', undefined]) {
    const p = pod({
      'podpattern.dev/adapter': 'log-normalizer',
      ...(format === undefined ? {} : { 'log-normalizer.podpattern.dev/format': format }),
    });
    const admission = { namespace: 'shop', params };
    const expected = oneLine(webhook(p, catalog, admission));
    t.equal(
      denialOf(tenancy(normalizer, 'ValidatingAdmissionPolicy'), p, admission),
      expected,
      `format ${format ?? '(the template default)'}: ${expected ?? 'admitted'}`,
    );
  }
});

t.test("forbid and opt-out: the webhook's denials, word for word", async (t) => {
  const exporter = catalog.get('redis-exporter') as Template;
  const normalizer = catalog.get('log-normalizer') as Template;
  const forbidding = { namespace: 'shop', params: patternPolicy('shop', { forbid: ['redis-exporter'] }) };
  const asks = pod({ 'podpattern.dev/adapter': 'redis-exporter' });
  const forbidden = oneLine(webhook(asks, catalog, forbidding));
  t.match(forbidden, /template redis-exporter is forbidden in namespace shop by PatternPolicy shop\/default/);
  t.equal(denialOf(tenancy(exporter, 'ValidatingAdmissionPolicy'), asks, forbidding), forbidden, 'forbidden');
  const beside = pod({ 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/sidecar': 'log-normalizer' });
  t.match(
    denialOf(tenancy(exporter, 'ValidatingAdmissionPolicy'), beside, forbidding),
    /forbidden in namespace shop/,
    'forbidden beside another template too',
  );
  t.equal(
    denialOf(tenancy(exporter, 'ValidatingAdmissionPolicy'), asks, {
      namespace: 'shop',
      params: patternPolicy('shop', { forbid: ['git-sync'] }),
    }),
    undefined,
    'a policy that forbids another template does not match',
  );

  const requiring = { namespace: 'shop', params: patternPolicy('shop', { require: [{ template: 'log-normalizer' }] }) };
  const optOut = pod({ 'podpattern.dev/inject': 'false' });
  const refused = oneLine(webhook(optOut, catalog, requiring));
  t.match(refused, /podpattern\.dev\/inject: "false" is refused/);
  t.equal(
    denialOf(tenancy(normalizer, 'ValidatingAdmissionPolicy'), optOut, requiring),
    refused,
    'an opt-out where a template is required',
  );
  const mirror = pod({ 'podpattern.dev/inject': 'false', 'kubernetes.io/config.mirror': 'x' });
  t.equal(
    denialOf(tenancy(normalizer, 'ValidatingAdmissionPolicy'), mirror, requiring),
    undefined,
    'a mirror pod is never held to a policy',
  );
  t.equal(webhook(mirror, catalog, requiring).outcome, 'skipped', '(nor by the webhook)');
});

t.test('a required template: injected into a pod that asks for nothing, with the parameters the webhook gives it', async (t) => {
  const normalizer = catalog.get('log-normalizer') as Template;
  const mutating = tenancy(normalizer, 'MutatingAdmissionPolicy');
  const requiring = (parameters?: Record<string, unknown>): Admission => ({
    namespace: 'shop',
    params: patternPolicy('shop', { require: [{ template: 'log-normalizer', ...(parameters === undefined ? {} : { parameters }) }] }),
  });
  const cases: [string, PodLike, Admission][] = [
    ["the template's defaults", pod({}), requiring()],
    ["the policy's parameter", pod({}), requiring({ format: 'ltsv' })],
    ["the pod's own parameter over the policy's", pod({ 'log-normalizer.podpattern.dev/format': 'json' }), requiring({ format: 'ltsv' })],
  ];
  for (const [label, p, admission] of cases) {
    t.ok(matchesConditions(mutating, p, admission), `${label}: the mutating policy takes the bare pod`);
    const result = webhook(p, catalog, admission);
    if (result.outcome !== 'injected') throw new Error(`${label}: the webhook did not inject: ${result.outcome}`);
    const variables = variablesOf(mutating, p, admission);
    t.same(variables.problems, [], `${label}: no problems`);
    for (const [name, value] of Object.entries(result.parameters['log-normalizer'] ?? {})) {
      t.equal(
        variables[`text_${name.replaceAll('-', '_')}`],
        String(value),
        `${label}: ${name} is ${String(value)}, as the webhook has it`,
      );
    }
  }
  const narrowed = {
    namespace: 'shop',
    params: patternPolicy('shop', {
      require: [{ template: 'log-normalizer', parameters: { format: 'nginx' } }],
      narrow: { 'log-normalizer': { format: { enum: ['json'] } } },
    }),
  };
  const webhookDenial = oneLine(webhook(pod({}), catalog, narrowed));
  t.match(webhookDenial, /format: 'nginx' must be one of "json" \(narrowed by PatternPolicy shop\/default\)/);
  t.not(variablesOf(mutating, pod({}), narrowed).problems, [], 'a policy parameter outside its own narrowing: nothing is injected…');
  t.equal(
    denialOf(tenancy(normalizer, 'ValidatingAdmissionPolicy'), pod({}), narrowed),
    webhookDenial,
    '…and the pod is denied as the webhook denies it',
  );

  const not: [string, PodLike, Admission][] = [
    [
      "a pod that asks for a template itself (the template's own policies inject it)",
      pod({ 'podpattern.dev/adapter': 'log-normalizer' }),
      requiring(),
    ],
    ['an opted-out pod', pod({ 'podpattern.dev/inject': 'false' }), requiring()],
    ['an injected pod', pod({ 'podpattern.dev/status': '{}' }), requiring()],
    ['a mirror pod', pod({ 'kubernetes.io/config.mirror': 'x' }), requiring()],
    [
      'a policy requiring two templates (only the webhook composes them)',
      pod({}),
      {
        namespace: 'shop',
        params: patternPolicy('shop', { require: [{ template: 'log-normalizer' }, { template: 'git-sync', parameters: { repo } }] }),
      },
    ],
    [
      'a policy requiring another template',
      pod({}),
      { namespace: 'shop', params: patternPolicy('shop', { require: [{ template: 'storm-logs' }] }) },
    ],
  ];
  for (const [label, p, admission] of not) t.notOk(matchesConditions(mutating, p, admission), `not taken: ${label}`);
});

t.test('what only the webhook can do is refused, saying so', async (t) => {
  const normalizer = catalog.get('log-normalizer') as Template;
  const validating = tenancy(normalizer, 'ValidatingAdmissionPolicy');
  const requiring = {
    namespace: 'shop',
    params: patternPolicy('shop', { require: [{ template: 'log-normalizer', parameters: { format: 'ltsv' } }] }),
  };
  t.equal(
    webhook(pod({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web' }), catalog, requiring).outcome,
    'injected',
    'the webhook composes a required template with another',
  );
  t.match(
    denialOf(validating, pod({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web' }), requiring),
    /without its webhook: PatternPolicy shop\/default requires log-normalizer and the pod asks for https-proxy; the admission policies inject one template per pod/,
  );
  const composed = webhook(
    pod({ 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web' }),
    catalog,
    requiring,
  );
  if (composed.outcome === 'injected')
    t.equal(
      denialOf(validating, composed.pod, requiring),
      undefined,
      'beside the webhook, a pod it composed (its record lists the template) is admitted',
    );
  const two = {
    namespace: 'shop',
    params: patternPolicy('shop', { require: [{ template: 'log-normalizer' }, { template: 'storm-logs' }] }),
  };
  t.match(denialOf(validating, pod({}), two), /requires log-normalizer, storm-logs; the admission policies inject one template per pod/);
  t.match(
    denialOf(validating, pod({ 'podpattern.dev/adapter': 'log-normalizer' }), requiring),
    /requires log-normalizer with parameters format, which this pod asks for log-normalizer without setting/,
    "a pod asking for the template itself without the policy's parameter",
  );
  t.equal(
    denialOf(validating, pod({ 'podpattern.dev/adapter': 'log-normalizer', 'log-normalizer.podpattern.dev/format': 'json' }), requiring),
    undefined,
    "one that sets it is the template's own policies' to inject",
  );
});

t.test('a template with availability compiles; every object of the PatternPolicy pair names its param', async (t) => {
  const cat = catalogWith({ namespaceSelector: { matchLabels: { team: 'a' } }, serviceAccounts: ['deployer'] });
  const compiled = compileTemplate(cat.get('git-sync') as Template, { ownNamespace: 'podpattern' });
  t.ok(compiled.ok, compiled.ok ? 'compiled' : compiled.problems.join('; '));
  if (!compiled.ok) return;
  const pair = compiled.objects.filter((o) => (o.metadata as { name: string }).name === tenancyPolicyName('git-sync'));
  t.same(
    pair.map((o) => o.kind),
    ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
  );
  for (const object of pair) {
    const spec = object.spec as { paramKind?: unknown; paramRef?: unknown };
    if (String(object.kind).endsWith('Binding'))
      t.same(
        spec.paramRef,
        { selector: {}, parameterNotFoundAction: 'Allow' },
        `${String(object.kind)}: the namespace's own PatternPolicy, none: not constrained`,
      );
    else
      t.same(
        spec.paramKind,
        { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy' },
        `${String(object.kind)}: its param is a PatternPolicy`,
      );
  }
});
