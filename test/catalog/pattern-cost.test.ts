// Parameter patterns run on every review against values any pod author chooses, and
// /validate-template compiles whatever pattern a client sends. A pattern whose program is too
// large to compile cheaply or to match cheaply is refused, with its reason, before it is
// compiled; compiled patterns live only as long as the templates that hold them.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseTemplates, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { MAX_PATTERN_INSTRUCTIONS, checkParameterValue, expandedSize, patternProblem } from '../../src/template/parameter-value.js';
import type { ParameterSpec } from '../../src/model/template.js';
import { buildApp } from '../../src/server/app.js';
import { testDeps } from '../server/fixtures.js';

const string = (pattern: string, maxLength?: number): ParameterSpec & { pattern: string } => ({
  type: 'string',
  pattern,
  ...(maxLength === undefined ? {} : { maxLength }),
});
const forty = `^${'[a-z]{0,1000}'.repeat(40)}$`; // 524 characters, 80,004 instructions
const sixty = `^(${'[a-z]{0,1000}'.repeat(60)})$`; // 784 characters; a hundred (1.98 KB) ran a 200 MB heap out of memory compiling

t.test('patterns that expand past the instruction budget are refused before they are compiled', async (t) => {
  for (const [label, pattern] of [
    ['40 × [a-z]{0,1000}', forty],
    ['60 × [a-z]{0,1000}', sixty],
    ['nested repeats', '^((a{0,100}){0,100})$'],
  ] as const) {
    const problem = patternProblem(string(pattern));
    // "expands to": the static measure refused it; a compiled program would say "compiles to".
    t.match(problem, /expands to about \d+ instructions, more than 2500/, `${label}: refused (${problem})`);
    t.ok(expandedSize(pattern) > MAX_PATTERN_INSTRUCTIONS, `${label}: its static size (${expandedSize(pattern)}) is over the budget`);
  }
});

t.test('the static size is an upper bound of the compiled program', async (t) => {
  const { RE2JS } = await import('re2js');
  for (const pattern of [
    '^[a-z]$',
    '^(a|bc|def)+$',
    '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    '^x{3,7}y{2,}z?$',
    '^(?:ab){0,63}$',
    '^\\p{Greek}[\\]x-]{1,5}\\x{41}$',
    '^[a-z]{0,1000}$',
  ]) {
    const size = RE2JS.compile(pattern).programSize();
    t.ok(expandedSize(pattern) >= size, `${pattern}: ${expandedSize(pattern)} >= ${size}`);
  }
});

t.test('a pattern too costly for its longest value is refused; the built-ins pass', async (t) => {
  t.equal(patternProblem(string('^[a-z]{0,1000}$')), undefined, 'a thousand-character class repeat for the default 253 characters');
  t.match(patternProblem(string('^[a-z]{0,1000}$', 100_000)), /instructions × 100000 characters/, 'but not for 100,000-character values');
  t.match(patternProblem(string(`^(${'[a-z]{0,1000}'.repeat(100)})$`)), /longer than 1024 characters/);
  const builtins = loadBuiltinTemplates();
  t.equal(builtins.failures.length, 0, 'every built-in template loads');
  for (const template of builtins.templates) {
    for (const [name, parameter] of Object.entries(template.spec.parameters)) {
      if (parameter.pattern !== undefined)
        t.equal(patternProblem({ ...parameter, pattern: parameter.pattern }), undefined, `${template.name}.${name}`);
    }
  }
});

t.test('a template whose patterns together exceed the budget is refused', async (t) => {
  const parameters = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`p${i}`, { type: 'string', pattern: '^[a-z]{0,500}$' }]));
  const parsed = parseTemplates(
    JSON.stringify({
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternTemplate',
      metadata: { name: 'many-patterns' },
      spec: { pattern: 'sidecar', description: 'd', parameters, containers: [{ name: 'many-patterns', image: 'example.org/x:1' }] },
    }),
    'cluster',
  );
  t.equal(parsed.templates.length, 0);
  t.match(parsed.failures[0]?.problems.join('\n'), /spec\.parameters: the patterns together expand to about \d+ instructions/);
});

t.test('patterns seen at /validate-template are not kept: 100 distinct ones leave the heap as it was', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const app = buildApp(testDeps());
  t.teardown(() => app.close());
  const heapUsed = (): number => {
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = heapUsed();
  // Each compiles to about 600 instructions, some 340 KB once compiled: kept, 100 would hold 33 MB.
  for (let i = 0; i < 100; i += 1) {
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u${i}`,
        kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
        resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patterntemplates' },
        name: 'x',
        operation: 'CREATE',
        object: {
          apiVersion: 'podpattern.dev/v1alpha1',
          kind: 'PatternTemplate',
          metadata: { name: 'x' },
          spec: {
            pattern: 'sidecar',
            description: 'd',
            parameters: { v: { type: 'string', pattern: `^[a-z]{0,${300 - i}}$`, default: 'ab' } },
            containers: [{ name: 'x', image: 'example.org/x:1', args: ['$(params.v)'] }],
          },
        },
      },
    };
    const res = await app.inject({
      method: 'POST',
      url: '/validate-template',
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    t.equal(res.json().response.allowed, true);
  }
  const grown = heapUsed() - before;
  t.ok(grown < 8 * 1024 * 1024, `the heap grew by ${(grown / 1048576).toFixed(1)} MiB, not by what 100 compiled patterns hold`);
});

t.test('values are still checked against a pattern', async (t) => {
  const parameter = string('^[a-z]+$');
  t.equal(checkParameterValue(parameter, 'abc'), undefined);
  t.match(checkParameterValue(parameter, 'ABC'), /must match/);
});
