// A template is compiled once, when the catalog accepts it: its compiled form is frozen, says
// where every placeholder is and which parameter is behind every listener and port, and is what
// the renderer fills in. A template the compiler cannot compile is refused at load, with why.
import t from 'tap';
import { stringify } from 'yaml';
import { buildCatalog, loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';
import { renderTemplate } from '../../src/engine/render.js';
import type { CompiledValue, Template } from '../../src/model/template.js';

const builtins = buildCatalog([loadBuiltinTemplates()]);
function builtin(name: string): Template {
  const template = builtins.get(name);
  if (template === undefined) throw new Error(`no built-in ${name}`);
  return template;
}

/** Every object and list in `value` that is not frozen, by path (compiled patterns are the engine's own). */
function unfrozen(value: unknown, path: string, found: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || path === '.patterns') return found;
  if (!Object.isFrozen(value)) found.push(path);
  for (const [key, item] of Object.entries(value)) unfrozen(item, `${path}.${key}`, found);
  return found;
}

/** The compiled value at `keys` under an object value. */
function at(value: CompiledValue, ...keys: (string | number)[]): CompiledValue {
  let here = value;
  for (const key of keys) {
    if (here.kind === 'object') here = here.values[here.keys.indexOf(key as string)] as CompiledValue;
    else if (here.kind === 'list') here = here.items[key as number] as CompiledValue;
    else throw new Error(`no ${key} in a ${here.kind} value`);
  }
  return here;
}

t.test('every built-in has a frozen compiled form on it', async (t) => {
  t.ok(builtins.list().length >= 8, 'the built-ins load');
  for (const template of builtins.list()) {
    t.ok(Object.isFrozen(template.compiled), `${template.name}: frozen`);
    t.same(unfrozen(template.compiled, ''), [], `${template.name}: frozen all the way down`);
    t.throws(
      () => {
        (template.compiled.listeners as unknown[]).push({});
      },
      TypeError,
      `${template.name}: a listener cannot be added`,
    );
  }
});

t.test('service-broker: the socat listener on loopback is its listen-port parameter; a string is split at its placeholders', async (t) => {
  const { compiled } = builtin('service-broker');
  t.same(compiled.listeners, [{ parameter: 'listen-port', where: 'spec.containers[0] (service-broker)' }]);
  const args = at(compiled.body, 'containers', 0, 'args');
  t.equal(args.kind, 'list');
  const listen = args.kind === 'list' ? args.items.find((item) => item.kind === 'text' && item.texts[0] === 'TCP-LISTEN:') : undefined;
  t.same(
    listen,
    { kind: 'text', texts: ['TCP-LISTEN:', ',bind=127.0.0.1,fork,reuseaddr'], refs: ['listen-port'], expanded: true },
    'args are expanded by Kubernetes, so values put there get their $ doubled',
  );
});

t.test('https-proxy: its containerPort is its listen-port parameter, typed; its files have their keys and volume', async (t) => {
  const { compiled } = builtin('https-proxy');
  t.same(compiled.portParameters['https-proxy'], ['listen-port']);
  t.same(at(compiled.body, 'containers', 0, 'ports', 0, 'containerPort'), { kind: 'typed', ref: 'listen-port', expanded: false });
  t.same(compiled.files.names, ['nginx.conf']);
  t.same(compiled.files.keys, ['https-proxy.podpattern.dev/file.nginx.conf']);
  t.equal(compiled.files.volume, 'https-proxy-files');
  t.same(compiled.listeners, [], 'nginx listens on every address, not on loopback');
});

t.test('redis-shard: the pattern of its shards parameter is compiled once, at load', async (t) => {
  const { compiled, spec } = builtin('redis-shard');
  const shards = Object.keys(spec.parameters).filter((name) => spec.parameters[name]?.pattern !== undefined);
  t.same(Object.keys(compiled.patterns).sort(), shards.sort(), 'one compiled pattern per parameter with a pattern');
  for (const name of shards) {
    t.equal(
      compiled.patterns[name]?.matches(String(spec.parameters[name]?.default ?? 'redis-0:6379')),
      true,
      `${name} matches a valid value`,
    );
    t.equal(compiled.patterns[name]?.matches('a:6379 name'), false, `${name} refuses an invalid one`);
  }
  t.same(
    compiled.listeners.map((l) => l.parameter),
    ['listen-port'],
    'twemproxy listens on loopback at listen-port',
  );
});

t.test('rendering fills the compiled form in and leaves it as it was', async (t) => {
  const template = builtin('service-broker');
  const before = JSON.stringify(template.compiled);
  const values = new Map<string, string | number | boolean>([
    ['listen-port', 4000],
    ['service', 'db'],
    ['target-port', 3306],
  ]);
  const one = renderTemplate(template, values, { name: 'p', namespace: 'ns' });
  const two = renderTemplate(template, values, { name: 'q', namespace: 'ns' });
  t.ok(one.containers[0]?.args?.includes('TCP-LISTEN:4000,bind=127.0.0.1,fork,reuseaddr'), 'the listen port is filled in');
  t.same(one.listeners, [{ port: 4000, parameter: 'listen-port', where: 'spec.containers[0] (service-broker)' }]);
  t.not(one.containers[0], two.containers[0], 'each render builds its own objects');
  t.equal(JSON.stringify(template.compiled), before);
});

function loopbackTemplate(portParameter: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'local-proxy' },
    spec: {
      pattern: 'ambassador',
      description: 'test',
      parameters: { port: portParameter },
      containers: [
        { name: 'proxy', image: 'example.org/proxy:1.0', args: ['TCP-LISTEN:$(params.port),bind=127.0.0.1,fork', 'TCP:db:3306'] },
      ],
    },
  });
}

t.test('a template whose loopback listener port is not an integer parameter is refused at load, with why', async (t) => {
  const refused = parseTemplates(loopbackTemplate({ type: 'string', enum: ['8090', '8091'] }), 'file:/etc/podpattern/local-proxy.yaml');
  t.same(refused.templates, []);
  t.same(
    refused.failures.map((f) => f.name),
    ['local-proxy'],
  );
  t.match(refused.failures[0]?.problems, [
    /spec\.containers\[0\] \(proxy\): listens on loopback at the port \$\(params\.port\), which is a string parameter; a port is set by an integer parameter/,
  ]);
  const accepted = parseTemplates(
    loopbackTemplate({ type: 'integer', default: 8090, minimum: 1024, maximum: 65535 }),
    'file:/etc/podpattern/local-proxy.yaml',
  );
  t.same(accepted.failures, []);
  t.same(accepted.templates[0]?.compiled.listeners, [{ parameter: 'port', where: 'spec.containers[0] (proxy)' }]);
});
