// `podpattern policy`: built-in names, --catalog-dir names and -f files become ten admission
// objects per template (its own pair, the PatternPolicy pair and the review of PatternPolicy writes, with their bindings), two more that warn about workloads and two that deny a pod where the namespace's policy requires only templates not compiled; a template that cannot be compiled stops the run with every reason on
// stderr, nothing on stdout and exit 1.
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { run } from '../../src/cli/policy.js';
import type { Io } from '../../src/cli/common.js';
import { fixtureCatalogDir } from '../helpers/catalog.js';

function capture(stdin = ''): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { stdout: (s) => void (out += s), stderr: (s) => void (err += s), readStdin: () => stdin, out: () => out, err: () => err };
}

type Doc = { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const docs = (yaml: string): Doc[] => parseAllDocuments(yaml).map((d) => d.toJS() as Doc);

t.test('built-in names give a mutating and a validating policy with their bindings each', async (t) => {
  const io = capture();
  t.equal(await run(['https-proxy', 'redis-exporter'], io), 0, io.err());
  const objects = docs(io.out());
  t.same(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'MutatingAdmissionPolicy/podpattern-https-proxy',
      'MutatingAdmissionPolicyBinding/podpattern-https-proxy',
      'ValidatingAdmissionPolicy/podpattern-https-proxy',
      'ValidatingAdmissionPolicyBinding/podpattern-https-proxy',
      'MutatingAdmissionPolicy/podpattern-https-proxy-patternpolicy',
      'MutatingAdmissionPolicyBinding/podpattern-https-proxy-patternpolicy',
      'ValidatingAdmissionPolicy/podpattern-https-proxy-patternpolicy',
      'ValidatingAdmissionPolicyBinding/podpattern-https-proxy-patternpolicy',
      'ValidatingAdmissionPolicy/podpattern-https-proxy-patternpolicy-review',
      'ValidatingAdmissionPolicyBinding/podpattern-https-proxy-patternpolicy-review',
      'MutatingAdmissionPolicy/podpattern-redis-exporter',
      'MutatingAdmissionPolicyBinding/podpattern-redis-exporter',
      'ValidatingAdmissionPolicy/podpattern-redis-exporter',
      'ValidatingAdmissionPolicyBinding/podpattern-redis-exporter',
      'MutatingAdmissionPolicy/podpattern-redis-exporter-patternpolicy',
      'MutatingAdmissionPolicyBinding/podpattern-redis-exporter-patternpolicy',
      'ValidatingAdmissionPolicy/podpattern-redis-exporter-patternpolicy',
      'ValidatingAdmissionPolicyBinding/podpattern-redis-exporter-patternpolicy',
      'ValidatingAdmissionPolicy/podpattern-redis-exporter-patternpolicy-review',
      'ValidatingAdmissionPolicyBinding/podpattern-redis-exporter-patternpolicy-review',
      'ValidatingAdmissionPolicy/podpattern-workloads',
      'ValidatingAdmissionPolicyBinding/podpattern-workloads',
      'ValidatingAdmissionPolicy/podpattern-required-templates',
      'ValidatingAdmissionPolicyBinding/podpattern-required-templates',
    ],
  );
  t.same(objects[21]?.spec.validationActions, ['Warn'], 'the workloads policy only warns');
  t.same(
    objects[23]?.spec.paramRef,
    { selector: {}, parameterNotFoundAction: 'Allow' },
    "the required-templates policy's param is the namespace's own policy",
  );
  t.match(
    (objects[22]?.spec.variables as { name: string; expression: string }[])[0],
    { name: 'compiled', expression: '["https-proxy", "redis-exporter"]' },
    'it knows the templates compiled beside it',
  );
  t.same(
    objects[5]?.spec.paramRef,
    { selector: {}, parameterNotFoundAction: 'Allow' },
    "the PatternPolicy pair's param is the namespace's own policy",
  );
  t.ok(objects.every((o) => o.apiVersion === 'admissionregistration.k8s.io/v1'));
  const mutating = objects[0] as Doc;
  t.same(
    (mutating.spec.mutations as { patchType: string }[]).map((m) => m.patchType),
    ['ApplyConfiguration', 'JSONPatch'],
  );
  t.equal(mutating.spec.reinvocationPolicy, 'IfNeeded');
  const binding = objects[1] as Doc & {
    spec: { matchResources: { namespaceSelector: { matchExpressions: { key: string; values: string[] }[] } } };
  };
  t.same(binding.spec.matchResources.namespaceSelector.matchExpressions[0], {
    key: 'podpattern.dev/injection',
    operator: 'In',
    values: ['enabled', 'required'],
  });
  t.ok(
    binding.spec.matchResources.namespaceSelector.matchExpressions[1]?.values.includes('podpattern'),
    "podpattern's own namespace is left alone",
  );
});

t.test('--catalog-dir templates and -f files compile too; -o json is a List', async (t) => {
  const io = capture();
  t.equal(await run(['demo-adapter', '--catalog-dir', fixtureCatalogDir, '-o', 'json'], io), 0, io.err());
  const list = JSON.parse(io.out()) as { kind: string; items: Doc[] };
  t.equal(list.kind, 'List');
  t.equal(list.items.length, 14, 'ten for the template, two for the workload warnings, two for required templates not compiled');
  const file = capture(`apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: tiny }
spec:
  pattern: adapter
  description: tiny
  containers: [{ name: tiny, image: example.org/tiny:1, args: ["--pod=$(pod.name)"] }]
`);
  t.equal(await run(['-f', '-'], file), 0, file.err());
  t.equal(docs(file.out())[0]?.metadata.name, 'podpattern-tiny');
});

t.test('a template that cannot be compiled: exit 1, every reason, nothing on stdout', async (t) => {
  const io = capture(`apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: odd }
spec:
  pattern: sidecar
  description: odd
  parameters:
    ratio: { type: number, default: 0.5 }
    user: { type: string, default: bob, pattern: "^[a-z]+$" }
  containers: [{ name: odd, image: example.org/odd:1, args: ["$(params.ratio)", "--user=$(params.user)"] }]
`);
  t.equal(await run(['-f', '-'], io), 1);
  t.equal(io.out(), '');
  t.match(io.err(), /cannot compile \(1 problem\)/);
  t.match(io.err(), /odd: parameters\.ratio: number parameters are not compiled/);
});

t.test('a template the catalog refuses (a pattern with lookaround) is refused before compiling', async (t) => {
  const io = capture(`apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: odd }
spec:
  pattern: sidecar
  description: odd
  parameters:
    user: { type: string, default: bob, pattern: "^(?!root$)[a-z]+$" }
  containers: [{ name: odd, image: example.org/odd:1, args: ["--user=$(params.user)"] }]
`);
  t.equal(await run(['-f', '-'], io), 1);
  t.equal(io.out(), '');
  t.match(io.err(), /spec\.parameters\.user\.pattern: not a regular expression podpattern can run in linear time/);
});

t.test('unknown names and bad usage', async (t) => {
  const io = capture();
  t.equal(await run(['no-such'], io), 1);
  t.equal(io.out(), '');
  t.match(io.err(), /no template named 'no-such'/);
  const usage = capture();
  t.equal(await run([], usage), 2);
  t.match(usage.err(), /name templates, or give -f/);
});
