// `podpattern inject` and `podpattern explain`: flags, standard input, output formats, exit
// codes and messages; and once through the built binary, as a user runs it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { run as inject } from '../../src/cli/inject.js';
import { run as explain } from '../../src/cli/explain.js';
import type { Io } from '../../src/cli/common.js';
import { fixtureCatalogDir } from '../helpers/catalog.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = `${root}examples/https-proxy.yaml`;

function capture(stdin = ''): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readStdin: () => stdin, out: () => out, err: () => err };
}

const deniedPod = `apiVersion: v1
kind: Pod
metadata: { name: bad, annotations: { podpattern.dev/sidecar: nope } }
spec: { containers: [{ name: app, image: x }] }
`;

t.test('inject writes the mutated manifests as YAML', async (t) => {
  const io = capture();
  t.equal(await inject(['-f', example], io), 0, io.err());
  const pod = parse(io.out());
  t.ok(
    pod.spec.initContainers.some((c: { name: string; restartPolicy?: string }) => c.name === 'https-proxy' && c.restartPolicy === 'Always'),
    "the sidecar is there, native: the CLI assumes the chart's oldest Kubernetes, 1.30",
  );
  t.match(pod.metadata.annotations['podpattern.dev/status'], /https-proxy/);
});

t.test('inject reads standard input and writes JSON', async (t) => {
  const io = capture(
    `${deniedPod.replace('podpattern.dev/sidecar: nope', 'podpattern.dev/adapter: demo-adapter')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n`,
  );
  t.equal(await inject(['-f', '-', '-o', 'json', '--catalog-dir', fixtureCatalogDir], io), 0, io.err());
  const list = JSON.parse(io.out());
  t.equal(list.kind, 'List');
  t.equal(list.items[1].kind, 'ConfigMap', 'other kinds pass through');
});

t.test('a denied pod fails the run with the message on stderr and nothing on stdout', async (t) => {
  const io = capture(deniedPod);
  t.equal(await inject(['-f', '-'], io), 1);
  t.equal(io.out(), '');
  t.match(io.err(), /Pod\/bad: podpattern cannot inject this pod: podpattern.dev\/sidecar: no template named 'nope'/);
});

t.test('usage errors exit 2 with one line and the --help hint; broken input exits 1', async (t) => {
  for (const argv of [
    ['-o', 'xml', '-f', example],
    ['--bogus'],
    [],
    ['-f', example, '--native-sidecars', 'sometimes'],
    ['-f', example, '--kube-version', 'latest'],
    ['-f', example, '--namespace-annotation', 'novalue'],
  ]) {
    const io = capture();
    t.equal(await inject(argv, io), 2, `exit 2 for ${argv.join(' ')}`);
    t.match(io.err(), /^podpattern inject: [^\n]+\nRun 'podpattern inject --help' for usage\.\n$/);
  }
  const io = capture('a: [unclosed');
  t.equal(await inject(['-f', '-'], io), 1);
  t.match(io.err(), /podpattern: standard input: not YAML or JSON: document 1/);
  const help = capture();
  t.equal(await inject(['--help'], help), 0);
  t.match(help.out(), /usage: podpattern inject/);
});

t.test('explain says what, why, the parameters and the patch', async (t) => {
  const io = capture();
  t.equal(await explain(['-f', example, '--kube-version', '1.30'], io), 0, io.err());
  t.match(
    io.out(),
    /Pod\/legacy-web\n {2}inject https-proxy \(sidecar, hash [0-9a-f]{16}\)\n {4}tls-secret = "legacy-web-tls"\n {4}upstream-port = 8080/,
  );
  t.match(io.out(), /patch \(\d+ operations\):\n(.*\n)* {4}add \/spec\/initContainers \[\{"name":"https-proxy"/, 'native sidecars on 1.30');
  const denied = capture(deniedPod);
  t.equal(await explain(['-f', '-'], denied), 1);
  t.match(denied.out(), /DENIED: the pod would be refused, nothing is injected.\n {2}- \[unknown-template\] nope:/);
  const skipped = capture(deniedPod.replace('podpattern.dev/sidecar: nope', 'other: x'));
  t.equal(await explain(['-f', '-'], skipped), 0);
  t.match(skipped.out(), /nothing injected: neither the pod nor its namespace asks for a template/);
});

t.test('explain says when a built-in ambassador cannot start before the app, and when it can', async (t) => {
  const broker = `${root}examples/service-broker.yaml`;
  const old = capture();
  t.equal(await explain(['-f', broker, '--kube-version', '1.28'], old), 0, old.err());
  t.match(
    old.out(),
    /warning: Pod\/orders: template service-broker's 'service-broker' should be Ready before the app starts, but the API server is Kubernetes 1\.28; native sidecars need 1\.29 or later: .*\(the order is not held\)/,
    'on a server without native sidecars: a warning that the order is not held',
  );
  const current = capture();
  t.equal(await explain(['-f', broker, '--kube-version', '1.30'], current), 0, current.err());
  t.notMatch(current.out(), /warning:/, 'with native sidecars: no warning');
  t.match(
    current.out(),
    /added as native sidecars \(init containers with restartPolicy: Always\): service-broker/,
    'the broker is a native sidecar',
  );
});

t.test(
  'the built binary runs inject as a user would',
  { skip: spawnSync('test', ['-f', `${root}dist/src/bin/podpattern.js`]).status === 0 ? false : 'run npm run build first' },
  async (t) => {
    const result = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'inject', '-f', example], { encoding: 'utf8' });
    t.equal(result.status, 0, result.stderr);
    t.match(result.stdout, /name: https-proxy/);
    const unknown = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'frobnicate'], { encoding: 'utf8' });
    t.equal(unknown.status, 2);
    t.equal(
      unknown.stderr,
      "podpattern: unknown command 'frobnicate'\nRun 'podpattern --help' for the commands.\n",
      'one line and the hint',
    );
    const typo = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'injcet', '-f', example], { encoding: 'utf8' });
    t.equal(typo.status, 2);
    t.match(typo.stderr, /^podpattern: unknown command 'injcet' \(did you mean inject\?\)\n/);
    const template = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'templates', 'https-proxx'], { encoding: 'utf8' });
    t.equal(template.status, 1);
    t.match(template.stderr, /^podpattern: no template named 'https-proxx' \(did you mean https-proxy\?\)/);
    const policy = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'policy', 'git-snyc'], { encoding: 'utf8' });
    t.equal(policy.status, 1);
    t.match(policy.stderr, /no template named 'git-snyc' \(did you mean git-sync\?\)/);
  },
);
