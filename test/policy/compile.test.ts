// The compiled policies' CEL evaluated with @marcbachmann/cel-js (a CEL implementation in
// JavaScript; the API server runs cel-go on the same expressions): hostile template text and
// parameter values stay data, and the validating policy finds exactly the webhook's problems.
import t from 'tap';
import fc from 'fast-check';
import { evaluate } from '@marcbachmann/cel-js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { renderTemplate } from '../../src/engine/render.js';
import { compileTemplate } from '../../src/policy/index.js';
import { MAX_EXPRESSION_CODE_POINTS } from '../../src/policy/reparse.js';
import { compileValue } from '../../src/policy/values.js';
import type { Template, TemplateSpec } from '../../src/model/template.js';
import { compileTemplate as compileTemplateLanguage } from '../../src/template/compile.js';
import { testCatalog } from '../helpers/catalog.js';
import { policyVariables, validation } from '../helpers/policy-eval.js';

const catalog = testCatalog();

/** CEL values back to JSON: cel-js returns ints as bigint. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function templateWith(text: string): Template {
  const spec: TemplateSpec = {
    pattern: 'sidecar',
    description: 'test',
    parameters: { v: { type: 'string' } },
    containers: [{ name: 'c', image: 'i', args: [text], env: [{ name: 'E', value: text }] }],
    initContainers: [],
    volumes: [],
    files: { f: text },
    app: {},
    podAnnotations: { 'a.example/x': text },
  };
  const compiled = compileTemplateLanguage('hostile', spec);
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  return { name: 'hostile', hash: '0123456789abcdef', source: 'builtin', spec, compiled: compiled.compiled };
}

// Strings that mean something to CEL, JSON, YAML, shells and Kubernetes' $(VAR) expansion.
const fragments = fc.constantFrom(
  '"',
  "'",
  '\\',
  '\\"',
  '"""',
  "'''",
  '" + "',
  '") || true || ("',
  '$(',
  ')',
  '$$',
  '$(params.v)',
  '$(pod.name)',
  '$(pod.namespace)',
  '$(params.nope)',
  '$(HOME)',
  '${x}',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u007f',
  '\u0085',
  'variables.text_v',
  'object.metadata.name',
  '{}',
  '[]',
  '}',
  'ü',
  '🐙',
  '\u202e',
);
// Template text may only name declared parameters (the catalog refuses others at load).
const hostile = fc
  .oneof(
    fc.string({ maxLength: 80 }),
    fc.array(fragments, { maxLength: 20 }).map((p) => p.join('')),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
  )
  .filter((text) => !text.includes('$(params.nope)'));
// Annotation values. Control characters other than \n, \r and \t are left out: the policy's
// message shows them as they are where the webhook's shows them JSON-escaped (both deny).
const value = fc
  .oneof(
    fc.string({ maxLength: 60 }),
    fc.array(fragments, { maxLength: 12 }).map((p) => p.join('')),
  )
  // The webhook shows these as \u{hex} in messages; CEL has no way to (docs/policy.md lists it).
  .filter((v) => !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(v.replace(/[\t\n\r]/g, '')))
  // cel-js's substring() counts UTF-16 units where cel-go (the API server) and the engine count
  // code points, so a value with a character beyond U+FFFF is cut differently here only.
  .filter((v) => !/[\u{10000}-\u{10FFFF}]/u.test(v));

t.test('hostile template strings and values compile to CEL that yields exactly what the webhook renders', async (t) => {
  fc.assert(
    fc.property(hostile, value, value, (text, v, name) => {
      const template = templateWith(text);
      const rendered = renderTemplate(template, new Map([['v', v]]), { name, namespace: 'ns' });
      const context = { variables: { param_v: v, text_v: v }, object: { metadata: { name } }, request: { namespace: 'ns' } };
      const scope = { template };
      // Each string where the webhook renders it: command/args and env values with $ doubled
      // (Kubernetes expands $(VAR) there), files and annotations as they are. cel-js wants map
      // literals of one value type, so the strings are compiled and checked one by one; whole
      // objects are checked by the end-to-end suite on a real API server.
      const checks: [string, string, 'plain' | 'expanded'][] = [
        [rendered.containers[0]?.args?.[0] as string, 'args', 'expanded'],
        [rendered.containers[0]?.env?.[0]?.value as string, 'env', 'expanded'],
        [rendered.files.f as string, 'files', 'plain'],
        [rendered.podAnnotations['a.example/x'] as string, 'podAnnotations', 'plain'],
      ];
      for (const [expected, field, mode] of checks) {
        const expression = compileValue(text, scope, mode);
        const got = evaluate(expression, context);
        if (got !== expected) throw new Error(`${field}: ${JSON.stringify(got)} != ${JSON.stringify(expected)}\n${expression}`);
      }
    }),
    { numRuns: 300 },
  );
  t.pass('300 hostile templates and values');
});

function podAsking(template: Template, annotations: Record<string, string>, spec: Partial<NonNullable<PodLike['spec']>> = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', annotations: { [`podpattern.dev/${template.spec.pattern}`]: template.name, ...annotations } },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1' }], ...spec },
  };
}

function webhookProblems(pod: PodLike): string[] {
  const result = inject(pod, catalog, { nativeSidecars: 'always', namespace: 'ns' });
  return result.outcome === 'denied' ? result.problems.map((p) => p.message) : [];
}

t.test("the validating policy finds the webhook's problems, word for word, for any parameter values", async (t) => {
  // A template with availability is judged on the pod's namespace and account too: test/policy/tenancy.test.ts.
  const templates = catalog
    .list()
    .filter((tpl) => tpl.spec.availability === undefined && compileTemplate(tpl, { ownNamespace: 'podpattern' }).ok);
  t.ok(templates.length >= 9, 'every built-in compiles');
  const candidates = fc.oneof(
    value,
    fc.constantFrom(
      '0',
      '-1',
      '8080',
      '65536',
      '007',
      'true',
      'false',
      'HEAD',
      'web-tls',
      'https://github.com/org/site',
      '/srv/data',
      'a'.repeat(300),
    ),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...templates),
      fc.array(fc.tuple(fc.nat(), candidates), { maxLength: 4 }),
      fc.boolean(),
      (template, picks, stray) => {
        const names = Object.keys(template.spec.parameters);
        const annotations: Record<string, string> = {};
        for (const [i, v] of picks) if (names.length > 0) annotations[`${template.name}.podpattern.dev/${names[i % names.length]}`] = v;
        if (stray) annotations[`${template.name}.podpattern.dev/no-such`] = 'x';
        const pod = podAsking(template, annotations);
        const got = plain(policyVariables(template, pod).problems);
        const expected = webhookProblems(pod);
        if (JSON.stringify(got) !== JSON.stringify(expected))
          throw new Error(
            `${template.name} ${JSON.stringify(annotations)}:\n policy  ${JSON.stringify(got)}\n webhook ${JSON.stringify(expected)}`,
          );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 pods');
});

t.test("clashes with the pod are the webhook's denials", async (t) => {
  const proxy = catalog.get('https-proxy') as Template;
  const shard = catalog.get('redis-shard') as Template;
  const cases: [string, Template, PodLike][] = [
    [
      'container name',
      proxy,
      podAsking(proxy, { 'https-proxy.podpattern.dev/tls-secret': 'web' }, { containers: [{ name: 'https-proxy', image: 'x' }] }),
    ],
    [
      'port',
      proxy,
      podAsking(
        proxy,
        { 'https-proxy.podpattern.dev/tls-secret': 'web' },
        { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8443 }] }] },
      ),
    ],
    ['hostNetwork', proxy, podAsking(proxy, { 'https-proxy.podpattern.dev/tls-secret': 'web' }, { hostNetwork: true })],
    [
      'env var',
      shard,
      podAsking(
        shard,
        { 'redis-shard.podpattern.dev/shards': 'redis-0:6379' },
        { containers: [{ name: 'app', image: 'x', env: [{ name: 'REDIS_HOST', value: 'elsewhere' }] }] },
      ),
    ],
    [
      'hostNetwork with a loopback listener',
      shard,
      podAsking(shard, { 'redis-shard.podpattern.dev/shards': 'redis-0:6379' }, { hostNetwork: true }),
    ],
    [
      'loopback port',
      shard,
      podAsking(
        shard,
        { 'redis-shard.podpattern.dev/shards': 'redis-0:6379', 'redis-shard.podpattern.dev/listen-port': '7000' },
        { containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 7000 }] }] },
      ),
    ],
    [
      "several at once, in the webhook's order",
      shard,
      podAsking(
        shard,
        { 'redis-shard.podpattern.dev/shards': 'redis-0:6379' },
        { hostNetwork: true, containers: [{ name: 'redis-shard', image: 'x', env: [{ name: 'REDIS_HOST', value: 'elsewhere' }] }] },
      ),
    ],
    ['wrong pattern', proxy, { ...podAsking(proxy, {}), metadata: { annotations: { 'podpattern.dev/adapter': 'https-proxy' } } }],
    ['inject annotation', proxy, podAsking(proxy, { 'https-proxy.podpattern.dev/tls-secret': 'web', 'podpattern.dev/inject': 'maybe' })],
  ];
  for (const [label, template, pod] of cases) {
    const expected = webhookProblems(pod);
    t.not(expected.length, 0, `${label}: the webhook denies`);
    t.same(plain(policyVariables(template, pod).problems), expected, `${label}: the policy finds the same problems`);
  }
});

t.test("templates CEL cannot express the webhook's way are refused with every reason", async (t) => {
  const base = templateWith('x');
  const bad: Template = {
    ...base,
    spec: {
      ...base.spec,
      parameters: { ratio: { type: 'number', default: 0.5 }, word: { type: 'string', pattern: '^(?!admin)[a-z]+$' } },
      containers: [{ name: '$(params.word)', image: 'i', args: ['$(params.ratio)'] }],
      availability: { namespaceSelector: { matchLabels: { team: 'a' } } },
    },
  };
  const compiled = compileTemplate(bad, { ownNamespace: 'podpattern' });
  t.equal(compiled.ok, false);
  const problems = compiled.ok ? [] : compiled.problems;
  t.match(problems.join('\n'), /parameters\.ratio: number parameters are not compiled/);
  t.match(problems.join('\n'), /parameters\.word\.pattern uses lookaround/);
  t.notMatch(problems.join('\n'), /availability/, 'availability compiles (test/policy/tenancy.test.ts)');
  t.match(problems.join('\n'), /containers '\$\(params\.word\)': a name set by a parameter cannot be compiled/);
  t.ok(
    problems.every((p) => p.startsWith('hostile: ')),
    'each reason names the template',
  );
});

t.test('match conditions: the pod asks for this template alone, has not opted out, is no mirror pod and not injected yet', async (t) => {
  const template = catalog.get('https-proxy') as Template;
  const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  type Conditions = { spec: { matchConditions: { name: string; expression: string }[] } };
  const [mutating, , validating] = compiled.objects as unknown as Conditions[];
  const matches = (policy: Conditions | undefined, annotations: Record<string, string>): boolean =>
    (policy as Conditions).spec.matchConditions.every(
      (c) => evaluate(c.expression, { object: { metadata: { annotations }, spec: {} } }) === true,
    );
  const asks = { 'podpattern.dev/sidecar': ' https-proxy ,https-proxy' };
  t.ok(matches(mutating, asks), 'asked for (spaces and a repeat are fine)');
  t.notOk(matches(mutating, { ...asks, 'podpattern.dev/inject': 'false' }), 'opted out');
  t.notOk(matches(mutating, { ...asks, 'kubernetes.io/config.mirror': 'x' }), 'a mirror pod');
  t.notOk(matches(mutating, { ...asks, 'podpattern.dev/adapter': 'redis-exporter' }), "with another template: the webhook's");
  t.notOk(matches(mutating, { ...asks, 'podpattern.dev/status': '{}' }), 'already injected: reinvocation leaves it alone');
  t.notOk(matches(mutating, { 'podpattern.dev/adapter': 'https-proxy' }), 'under the wrong key the mutating policy stays out…');
  t.ok(matches(validating, { 'podpattern.dev/adapter': 'https-proxy' }), '…and the validating policy denies it');
  t.ok(matches(validating, { ...asks, 'podpattern.dev/status': '{}' }), 'the validating policy also judges injected pods');
  t.notOk(matches(mutating, {}), 'no annotations');
});

t.test('a status naming the template is judged by every container and volume the template adds', async (t) => {
  const proxy = catalog.get('https-proxy') as Template;
  const asked = podAsking(proxy, { 'https-proxy.podpattern.dev/tls-secret': 'web' });
  const result = inject(asked, catalog, { nativeSidecars: 'always', namespace: 'ns' });
  if (result.outcome !== 'injected') throw new Error(`the webhook did not inject: ${result.outcome}`);
  const injected = result.pod;
  const volumes = injected.spec?.volumes ?? [];
  t.ok(volumes.length >= 2, `the webhook added volumes (${volumes.map((v) => v.name).join(', ')})`);
  t.equal(validation(proxy, injected, 1).holds, true, 'the pod as the webhook injected it passes');
  const status = { 'podpattern.dev/status': injected.metadata?.annotations?.['podpattern.dev/status'] as string };
  t.equal(
    validation(proxy, podAsking(proxy, { 'https-proxy.podpattern.dev/tls-secret': 'web', ...status }), 1).holds,
    false,
    'its status on a pod without the objects is refused',
  );
  for (const volume of volumes) {
    const without = {
      ...injected,
      spec: { ...injected.spec, containers: injected.spec?.containers ?? [], volumes: volumes.filter((v) => v !== volume) },
    };
    t.equal(validation(proxy, without, 1).holds, false, `refused without the volume ${volume.name}`);
  }
  t.match(
    validation(proxy, injected, 1).message,
    /lacks its containers \(https-proxy\) or volumes \(.*https-proxy-files/,
    'the message names both',
  );

  // The catalog refuses a template with no containers; compiled anyway, its record is judged by its volumes.
  const base = templateWith('x');
  const volumesOnly: Template = {
    ...base,
    name: 'volumes-only',
    spec: { ...base.spec, parameters: {}, containers: [], files: {}, podAnnotations: {}, volumes: [{ name: 'shared', emptyDir: {} }] },
  };
  const record = {
    'podpattern.dev/status': JSON.stringify({
      templates: [{ name: 'volumes-only', pattern: 'sidecar', hash: volumesOnly.hash }],
      containers: [],
      initContainers: [],
      volumes: ['shared'],
      annotations: [],
      appEnv: [],
      appVolumeMounts: [],
    }),
  };
  t.equal(
    validation(volumesOnly, podAsking(volumesOnly, record, { volumes: [{ name: 'shared', emptyDir: {} }] }), 1).holds,
    true,
    'no containers: a pod with the volume passes',
  );
  t.equal(validation(volumesOnly, podAsking(volumesOnly, record), 1).holds, false, 'no containers: a pod without it is refused');
  t.match(validation(volumesOnly, podAsking(volumesOnly, record), 1).message, /lacks its volumes \(shared\);/);
});

t.test("the operating system denial is the webhook's, word for word", async (t) => {
  const sidecar = catalog.get('demo-sidecar') as Template;
  const windows = catalog.get('demo-windows') as Template;
  const term = (...expressions: object[]): object => ({ matchExpressions: expressions });
  const os = (operator: string, values?: string[]): object => ({
    key: 'kubernetes.io/os',
    operator,
    ...(values === undefined ? {} : { values }),
  });
  const affinity = (...terms: object[]): object => ({
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } },
  });
  const specs: [string, object][] = [
    ['spec.os.name windows', { os: { name: 'windows' } }],
    ['spec.os.name linux', { os: { name: 'linux' } }],
    ['nodeSelector windows', { nodeSelector: { 'kubernetes.io/os': 'windows' } }],
    ['nodeSelector linux', { nodeSelector: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' } }],
    ['spec.os.name over the nodeSelector', { os: { name: 'linux' }, nodeSelector: { 'kubernetes.io/os': 'windows' } }],
    ['affinity In windows', { affinity: affinity(term(os('In', ['windows']))) }],
    ['affinity NotIn linux', { affinity: affinity(term(os('NotIn', ['linux']))) }],
    ['affinity DoesNotExist', { affinity: affinity(term(os('DoesNotExist'))) }],
    ['affinity Exists', { affinity: affinity(term(os('Exists'))) }],
    [
      'affinity, one term without the OS',
      { affinity: affinity(term(os('In', ['windows'])), term({ key: 'zone', operator: 'In', values: ['a'] })) },
    ],
    ['affinity, either term', { affinity: affinity(term(os('In', ['windows'])), term(os('In', ['linux']))) }],
    ['affinity, both requirements in one term', { affinity: affinity(term(os('In', ['linux', 'windows']), os('NotIn', ['linux']))) }],
  ];
  let denials = 0;
  for (const template of [sidecar, windows]) {
    for (const [label, spec] of specs) {
      const pod = podAsking(template, {}, spec);
      const expected = webhookProblems(pod);
      denials += expected.length;
      t.same(
        plain(policyVariables(template, pod).problems),
        expected,
        `${template.name}, ${label}: ${expected.length === 0 ? 'injected' : expected[0]}`,
      );
    }
  }
  t.ok(denials >= 8, `both modes deny where the template cannot run (${denials} denials)`);
});

t.test("the default container and the autoscaler's volume list are the webhook's", async (t) => {
  const sidecar = catalog.get('demo-sidecar') as Template;
  const compiled = compileTemplate(sidecar, { ownNamespace: 'podpattern' });
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  const mutating = compiled.objects.find((o) => o.kind === 'MutatingAdmissionPolicy') as {
    spec: { mutations: { applyConfiguration?: { expression: string } }[] };
  };
  const apply = mutating.spec.mutations[0]?.applyConfiguration?.expression ?? '';
  const { fitAnnotations } = await import('../../src/policy/fit.js');
  const entries = fitAnnotations(sidecar);
  t.ok(
    entries.every(([key]) => apply.includes(JSON.stringify(key))),
    'the apply configuration sets both annotations',
  );
  const listed = fc.oneof(
    fc.constant(undefined),
    fc
      .array(fc.constantFrom('scratch', ' scratch', 'demo-shared', ' demo-shared ', '', 'cache'), { maxLength: 4 })
      .map((items) => items.join(',')),
  );
  fc.assert(
    fc.property(listed, fc.option(fc.constantFrom('worker', 'app'), { nil: undefined }), (list, chosen) => {
      const annotations: Record<string, string> = {};
      if (list !== undefined) annotations['cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes'] = list;
      if (chosen !== undefined) annotations['kubectl.kubernetes.io/default-container'] = chosen;
      const pod = podAsking(sidecar, annotations, {
        containers: [
          { name: 'app', image: 'x' },
          { name: 'worker', image: 'x' },
        ],
      });
      const result = inject(pod, catalog, { nativeSidecars: 'always', namespace: 'ns' });
      if (result.outcome !== 'injected') throw new Error(`not injected: ${result.outcome}`);
      const anns = pod.metadata?.annotations ?? {};
      for (const [key, expression] of entries) {
        const got = evaluate(expression, { object: pod, variables: { anns } });
        const expected = result.pod.metadata?.annotations?.[key];
        if (got !== expected)
          throw new Error(`${key} for ${JSON.stringify(list)}: policy ${JSON.stringify(got)}, webhook ${JSON.stringify(expected)}`);
      }
    }),
    { numRuns: 200 },
  );
  t.pass('200 pods');
});

t.test("every expression fits the API server's limit, and one that would not is refused by name", async (t) => {
  let longest = 0;
  for (const template of catalog.list().filter((tpl) => tpl.source === 'builtin')) {
    const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
    if (!compiled.ok) {
      t.fail(`${template.name}: ${compiled.problems.join('; ')}`);
      continue;
    }
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value !== null && typeof value === 'object')
        for (const [key, item] of Object.entries(value))
          if ((key === 'expression' || key === 'messageExpression') && typeof item === 'string')
            longest = Math.max(longest, [...item].length);
          else visit(item);
    };
    visit(compiled.objects);
  }
  // Half the limit: a built-in that grows a parameter or two still fits.
  t.ok(longest <= MAX_EXPRESSION_CODE_POINTS / 2, `the longest compiled expression of any built-in is ${longest} code points`);

  // An enum of 900 long values is written into the parameter's check and message.
  const values = Array.from({ length: 900 }, (_, i) => `value-${String(i).padStart(4, '0')}-${'x'.repeat(120)}`);
  const spec: TemplateSpec = { ...templateWith('x').spec, parameters: { v: { type: 'string', enum: values } } };
  const language = compileTemplateLanguage('wide', spec);
  if (!language.ok) throw new Error(language.problems.join('; '));
  const wide: Template = { name: 'wide', hash: '0123456789abcdef', source: 'builtin', spec, compiled: language.compiled };
  const compiled = compileTemplate(wide, { ownNamespace: 'podpattern' });
  t.equal(compiled.ok, false, 'the template is refused');
  if (!compiled.ok)
    t.match(
      compiled.problems[0],
      /^wide: MutatingAdmissionPolicy podpattern-wide: spec\.variables\[\d+\]\.expression would be \d+ code points, over the 100000 the API server accepts in one expression$/,
    );
});
