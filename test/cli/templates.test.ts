// `podpattern templates [NAME]`: lists the catalog, shows one template's parameters, prints
// PatternTemplate objects with -o yaml|json, and says what exists when a name is unknown.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { run } from '../../src/cli/templates.js';
import type { Io } from '../../src/cli/common.js';

async function templates(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { stdout: (text) => out.push(text), stderr: (text) => err.push(text), readStdin: () => '' };
  const code = await run(argv, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const NINE = [
  'git-sync',
  'https-proxy',
  'log-normalizer',
  'redis-exporter',
  'redis-shard',
  'redis-slowlog',
  'request-splitter',
  'service-broker',
  'storm-logs',
];

t.test('lists the built-in catalog with pattern, source and description', async (t) => {
  const result = await templates([]);
  t.equal(result.code, 0);
  const lines = result.stdout.trimEnd().split('\n');
  t.match(lines[0], /^NAME\s+PATTERN\s+SOURCE\s+AVAILABLE\s+DESCRIPTION$/);
  t.same(
    lines.slice(1).map((line) => line.split(/\s+/)[0]),
    NINE,
  );
  t.match(result.stdout, /https-proxy\s+sidecar\s+builtin\s+everywhere\s+Terminates HTTPS/);
  t.equal(result.stderr, '');
});

t.test('shows one template with its parameters', async (t) => {
  const result = await templates(['redis-shard']);
  t.equal(result.code, 0);
  t.match(result.stdout, 'Pattern:     ambassador');
  t.match(result.stdout, 'Use:         podpattern.dev/ambassador: redis-shard');
  t.match(result.stdout, /shards\s+string\s+-\s+yes\s+matches \^/);
  t.match(result.stdout, /listen-port\s+integer\s+6379\s+no\s+1024 to 65535/);
  t.match(result.stdout, 'redis-shard-config (init): busybox:');
});

t.test('-o yaml and -o json print PatternTemplate objects', async (t) => {
  const json = await templates(['https-proxy', '-o', 'json']);
  t.equal(json.code, 0);
  const object = JSON.parse(json.stdout) as { kind: string; metadata: { name: string }; spec: { parameters: Record<string, unknown> } };
  t.equal(object.kind, 'PatternTemplate');
  t.equal(object.metadata.name, 'https-proxy');
  t.ok('tls-secret' in object.spec.parameters);
  const yaml = await templates(['https-proxy', '-o', 'yaml']);
  t.same(parse(yaml.stdout), object, 'yaml and json say the same');
  const all = await templates(['-o', 'yaml']);
  t.same(
    parseAllDocuments(all.stdout).map((d) => (d.toJS() as { metadata: { name: string } }).metadata.name),
    NINE,
  );
});

t.test('an unknown name is an error that lists the templates', async (t) => {
  const result = await templates(['no-such-thing']);
  t.equal(result.code, 1);
  t.equal(result.stdout, '');
  t.match(result.stderr, "no template named 'no-such-thing'; the templates are git-sync, https-proxy");
});

t.test('--catalog-dir adds templates, and reports an invalid one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-templates-'));
  writeFileSync(
    join(dir, 'mine.yaml'),
    'apiVersion: podpattern.dev/v1alpha1\nkind: PatternTemplate\nmetadata: { name: mine }\nspec:\n  pattern: adapter\n  description: Mine.\n  containers: [{ name: mine, image: "busybox:1.37.0" }]\n',
  );
  writeFileSync(
    join(dir, 'broken.yaml'),
    'apiVersion: podpattern.dev/v1alpha1\nkind: PatternTemplate\nmetadata: { name: broken }\nspec:\n  pattern: nope\n  description: Broken.\n',
  );
  const list = await templates(['--catalog-dir', dir]);
  t.equal(list.code, 0);
  t.match(
    list.stdout,
    new RegExp(`mine\\s+adapter\\s+file:${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/mine.yaml\\s+everywhere\\s+Mine\\.`),
  );
  t.match(list.stderr, 'warning: template broken');
  const broken = await templates(['broken', '--catalog-dir', dir]);
  t.equal(broken.code, 1);
  t.match(broken.stderr, 'template broken (file:');
});

t.test('bad flags are usage errors', async (t) => {
  const format = await templates(['-o', 'xml']);
  t.equal(format.code, 2);
  t.match(format.stderr, "-o must be one of text, yaml, json, got 'xml'");
  t.equal((await templates(['a', 'b'])).code, 2);
  const help = await templates(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, 'usage: podpattern templates');
});

t.test('a template limited by spec.availability says where it may be used', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-availability-'));
  writeFileSync(
    join(dir, 'team-tap.yaml'),
    [
      'apiVersion: podpattern.dev/v1alpha1',
      'kind: PatternTemplate',
      'metadata: { name: team-tap }',
      'spec:',
      '  pattern: adapter',
      '  description: A tap for one team.',
      '  containers: [{ name: team-tap, image: registry.example/tap:1 }]',
      '  availability:',
      '    namespaceSelector: { matchLabels: { team: a }, matchExpressions: [{ key: tier, operator: NotIn, values: [dev] }] }',
      '    serviceAccounts: [deployer, team-a/ci]',
      '',
    ].join('\n'),
  );
  const list = await templates(['--catalog-dir', dir]);
  t.match(list.stdout, /team-tap\s+adapter\s+file:\S+\s+limited\s+A tap for one team/);
  const shown = await templates(['team-tap', '--catalog-dir', dir]);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, 'Available:   namespaces team=a,tier notin (dev); ServiceAccounts deployer, team-a/ci');
  t.match((await templates(['https-proxy'])).stdout, 'Available:   everywhere podpattern serves');
});
