// How `inject` and `explain` take their input: repeated -f, directories (-R), -f=FILE, and a
// bad file (missing, unreadable, empty, not Kubernetes): one line naming it, exit 1, nothing
// written. Also what `explain` says it assumed about the cluster.
import t from 'tap';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run as inject } from '../../src/cli/inject.js';
import { run as explain } from '../../src/cli/explain.js';
import type { Io } from '../../src/cli/common.js';
import { fixtureCatalogDir } from '../helpers/catalog.js';

function capture(stdin = ''): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readStdin: () => stdin, out: () => out, err: () => err };
}

const pod = (name: string, annotations = 'podpattern.dev/adapter: demo-adapter') => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, annotations: { ${annotations} } }
spec: { containers: [{ name: app, image: example.org/app:1 }] }
`;

const names = (yaml: string) => parseAllDocuments(yaml).map((d) => (d.toJS() as { metadata: { name: string } }).metadata.name);

const catalog = ['--catalog-dir', fixtureCatalogDir];

t.test('-f repeats, -f=FILE reads FILE, and a directory gives its manifests (-R recursing)', async (t) => {
  const dir = t.testdir({
    'a.yaml': pod('a'),
    'b.yml': pod('b'),
    'notes.txt': 'not a manifest',
    sub: { 'c.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }) },
  });
  const both = capture();
  t.equal(await inject(['-f', join(dir, 'a.yaml'), '-f', join(dir, 'b.yml'), ...catalog], both), 0, both.err());
  t.same(names(both.out()), ['a', 'b'], 'both files, in order');
  const equals = capture();
  t.equal(await inject([`-f=${join(dir, 'a.yaml')}`, ...catalog], equals), 0, equals.err());
  t.same(names(equals.out()), ['a']);
  const flat = capture();
  t.equal(await inject(['-f', dir, ...catalog], flat), 0, flat.err());
  t.same(names(flat.out()), ['a', 'b'], 'a directory: its .yaml/.yml/.json files, not its subdirectories');
  const deep = capture();
  t.equal(await inject(['-R', '-f', dir, ...catalog], deep), 0, deep.err());
  t.same(names(deep.out()), ['a', 'b', 'c'], '-R: and its subdirectories');
});

t.test('a bad file: one line naming it and the problem, exit 1, nothing written', async (t) => {
  const dir = t.testdir({
    'good.yaml': pod('good'),
    'empty.yaml': '',
    'plain.yaml': 'just: some\nsettings: true\n',
    'scalar.yaml': 'hello\n',
    'broken.yaml': 'a: [unclosed',
    'locked.yaml': pod('locked'),
    'empty-dir': {},
  });
  chmodSync(join(dir, 'locked.yaml'), 0o000);
  const cases: [string, RegExp][] = [
    ['/no/such/file.yaml', /^podpattern: \/no\/such\/file.yaml: no such file or directory \(ENOENT\)$/m],
    [join(dir, 'empty.yaml'), /empty.yaml: no Kubernetes objects in it \(the file is empty\)$/m],
    [
      join(dir, 'plain.yaml'),
      /plain.yaml: object 1 \(\(no kind\)\/\(no name\)\) is not a Kubernetes object: it needs apiVersion and kind$/m,
    ],
    [join(dir, 'scalar.yaml'), /scalar.yaml: object 1 is the string "hello", not a Kubernetes object$/m],
    [join(dir, 'broken.yaml'), /broken.yaml: not YAML or JSON: document 1: /m],
    [join(dir, 'empty-dir'), /empty-dir: a directory with no .yaml, .yml, .json files/m],
  ];
  // root reads files whatever their mode
  if (process.getuid?.() !== 0) cases.push([join(dir, 'locked.yaml'), /locked.yaml: permission denied \(EACCES\)$/m]);
  for (const [file, message] of cases) {
    const io = capture();
    t.equal(await inject(['-f', join(dir, 'good.yaml'), '-f', file, ...catalog], io), 1, `exit 1 for ${file}`);
    t.match(io.err(), message);
    t.match(io.err(), /nothing was written/);
    t.equal(
      io
        .err()
        .split('\n')
        .filter((l) => l.includes(file)).length,
      1,
      'one line names the file',
    );
    t.equal(io.out(), '', 'and the good file was not written either');
    t.notMatch(io.err(), /usage:/, 'no usage text for a file problem');
  }
  const stdin = capture('');
  t.equal(await inject(['-f', '-'], stdin), 1);
  t.match(stdin.err(), /standard input: no Kubernetes objects/);
});

t.test('empty and unquoted annotation values', async (t) => {
  const empty = capture(pod('e', 'podpattern.dev/adapter: demo-adapter, example.com/note: , podpattern.dev/sidecar: ""'));
  t.equal(await inject(['-f', '-', ...catalog], empty), 0, empty.err());
  t.match(empty.out(), /example.com\/note: ""/, 'a key without a value is stored as ""');
  const unquoted = capture(pod('u', 'podpattern.dev/adapter: demo-adapter, podpattern.dev/inject: false'));
  t.equal(await inject(['-f', '-', ...catalog], unquoted), 1);
  t.match(
    unquoted.err(),
    /podpattern.dev\/inject is the boolean false, not a string: annotation values are strings, so quote it \(podpattern.dev\/inject: "false"\)/,
  );
});

t.test('a kind: List stays a List in YAML and in JSON', async (t) => {
  const list = `apiVersion: v1\nkind: List\nitems:\n${pod('in-list')
    .replace(/^/gm, '    ')
    .replace(/^ {4}apiVersion/, '  - apiVersion')}`;
  for (const output of ['yaml', 'json']) {
    const io = capture(list);
    t.equal(await inject(['-f', '-', '-o', output, ...catalog], io), 0, io.err());
    const parsed = (output === 'json' ? JSON.parse(io.out()) : parseAllDocuments(io.out())[0]?.toJS()) as {
      kind: string;
      items: { metadata: { annotations: Record<string, string> } }[];
    };
    t.equal(parsed.kind, 'List', `${output}: still a List`);
    t.match(parsed.items[0]?.metadata.annotations['podpattern.dev/status'], /demo-adapter/, `${output}: its item injected`);
  }
});

t.test('explain states every assumption, with the flag that changes it', async (t) => {
  const io = capture(pod('p'));
  t.equal(await explain(['-f', '-', ...catalog], io), 0, io.err());
  t.match(
    io.out(),
    /assumed about the cluster:\n {2}Kubernetes 1.30 \(the oldest the chart installs on\); set with --kube-version\n {2}native sidecars: yes \(--native-sidecars=auto: the API server is Kubernetes 1.30, which has native sidecars\)\n {2}namespace: default .*--namespace\n {2}namespace annotations: none, so no namespace defaults; set with --namespace-annotation KEY=VALUE/,
  );
  const old = capture(pod('p', 'example.com/x: y'));
  t.equal(
    await explain(
      [
        '-f',
        '-',
        '--kube-version',
        '1.28',
        '--namespace',
        'team',
        '--namespace-annotation',
        'podpattern.dev/adapter=demo-adapter',
        ...catalog,
      ],
      old,
    ),
    0,
    old.err(),
  );
  t.match(
    old.out(),
    /Kubernetes 1.28; set with --kube-version\n {2}native sidecars: no \(--native-sidecars=auto: the API server is Kubernetes 1.28; native sidecars need 1.29 or later\)\n {2}namespace: team; set with --namespace\n {2}namespace annotations: podpattern.dev\/adapter="demo-adapter"/,
  );
  t.match(old.out(), /inject demo-adapter \(adapter/, 'the namespace default applies to a pod that names no template');
});

t.test('refused kinds and Job pods in explain', async (t) => {
  const hollow = capture('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: hollow }\nspec: {}\n');
  t.equal(await explain(['-f', '-'], hollow), 1);
  t.match(hollow.out(), /Deployment\/hollow\n {2}REFUSED: a Deployment keeps its pod template at spec.template/);
  const hollowInject = capture('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: hollow }\nspec: {}\n');
  t.equal(await inject(['-f', '-'], hollowInject), 1);
  t.equal(hollowInject.out(), '');
  t.match(hollowInject.err(), /Deployment\/hollow: a Deployment keeps its pod template/);
});

t.test('a Namespace in the input gives its annotations, as the cluster would apply them', async (t) => {
  const namespace = (labels: string) =>
    `apiVersion: v1\nkind: Namespace\nmetadata: { name: team, labels: { ${labels} }, annotations: { podpattern.dev/adapter: demo-adapter } }\n---\n`;
  const plainPod = pod('p', 'example.com/x: y').replace('metadata: { name: p,', 'metadata: { name: p, namespace: team,');
  const labelled = capture(namespace('podpattern.dev/injection: enabled, podpattern.dev/defaults: enabled') + plainPod);
  t.equal(await explain(['-f', '-', ...catalog], labelled), 0, labelled.err());
  t.match(labelled.out(), /Namespace objects in the input give their own annotations and labels, for manifests in them: team/);
  t.match(labelled.out(), /Pod\/p\n {2}inject demo-adapter/, 'labelled podpattern.dev/defaults=enabled: the default applies');
  const unlabelled = capture(namespace('podpattern.dev/injection: enabled') + plainPod);
  t.equal(await explain(['-f', '-', ...catalog], unlabelled), 0, unlabelled.err());
  t.match(unlabelled.out(), /Pod\/p\n {2}nothing injected/, 'without the defaults label the pod never reaches podpattern');
  t.match(
    unlabelled.out(),
    /warning: Pod\/p: Namespace\/team in the input gives podpattern defaults in its annotations but is not labelled podpattern.dev\/defaults=enabled/,
  );
  const asking = capture(
    namespace('podpattern.dev/injection: enabled') +
      plainPod.replace('example.com/x: y', 'demo-adapter.podpattern.dev/metrics-port: "9200"'),
  );
  t.equal(await explain(['-f', '-', ...catalog], asking), 0, asking.err());
  t.match(
    asking.out(),
    /inject demo-adapter \(adapter.*\n {4}metrics-port = 9200/,
    'a pod with a podpattern annotation reaches it, and gets the default',
  );
  const notOptedIn = capture(namespace('other: x') + pod('q').replace('metadata: { name: q,', 'metadata: { name: q, namespace: team,'));
  t.equal(await inject(['-f', '-', ...catalog], notOptedIn), 0, notOptedIn.err());
  t.match(
    notOptedIn.err(),
    /Namespace\/team in the input is not labelled podpattern.dev\/injection=enabled \(or required\), so in a cluster podpattern never sees its pods/,
  );
});
