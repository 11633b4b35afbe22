// Property tests: hostile parameter values and annotations never add a field the template did
// not declare, never change another container, and always give a patch that applies.
import t from 'tap';
import fc from 'fast-check';
import { applyPatch, inject, type InjectionResult, type PodLike } from '../../src/engine/index.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();
const options = { nativeSidecars: 'never', namespace: 'ns' } as const;

function podWith(annotations: Record<string, string>): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations: { 'podpattern.dev/sidecar': 'demo-sidecar', ...annotations } },
    spec: {
      containers: [
        { name: 'app', image: 'example.org/app:1', env: [{ name: 'KEEP', value: 'me' }] },
        { name: 'other', image: 'example.org/other:1', args: ['--x'] },
      ],
    },
  };
}

/** Every path to a leaf, with array indexes and values left out: the shape of a document. */
function shape(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => shape(item, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => shape(v, `${path}.${k}`));
  return [path];
}

const benign = inject(podWith({}), catalog, options) as Extract<InjectionResult, { outcome: 'injected' }>;
t.equal(benign.outcome, 'injected', 'the benign pod is injected');

// Strings that mean something in YAML, JSON, shells, nginx, Kubernetes and Unicode.
const fragments = fc.constantFrom(
  '"',
  "'",
  '\\',
  '}',
  '{',
  ']',
  '[',
  ': ',
  '- ',
  '#',
  '---',
  '\n',
  '\r',
  '\t',
  '\u0000',
  ';',
  '$(',
  ')',
  '$(SECRET)',
  '$$(X)',
  '$(params.port)',
  '$(pod.name)',
  '${HOME}',
  '`id`',
  '&a',
  '*a',
  '!!js/function',
  '{"op":"add","path":"/spec/hostNetwork","value":true}',
  'ü',
  '🐙',
  '\u202e',
  '\ufeff',
);
const hostile = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.array(fragments, { maxLength: 30 }).map((parts) => parts.join('')),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.nat({ max: 12_000 }).map((n) => 'x'.repeat(n)),
);

t.test('a hostile label never changes the pod outside what the template declares', async (t) => {
  fc.assert(
    fc.property(hostile, (label) => {
      const pod = podWith({ 'demo-sidecar.podpattern.dev/label': label });
      const result = inject(pod, catalog, options);
      if (result.outcome === 'denied') {
        // Only values outside the parameter's bounds are refused, and they are named.
        return result.reason === 'invalid-parameter' && result.problems.every((p) => p.code === 'invalid-parameter');
      }
      if (result.outcome !== 'injected') return false;
      const applied = applyPatch<PodLike>(pod, result.patch);
      const spec = result.pod.spec!;
      // Another container changes only by the template's declared app wiring, whatever the value.
      const other = spec.containers.find((c) => c.name === 'other');
      const benignOther = benign.pod.spec!.containers.find((c) => c.name === 'other');
      const sidecar = spec.containers.find((c) => c.name === 'demo-sidecar');
      const benignSidecar = benign.pod.spec!.containers.find((c) => c.name === 'demo-sidecar');
      return (
        JSON.stringify(applied) === JSON.stringify(result.pod) &&
        JSON.stringify(other) === JSON.stringify(benignOther) &&
        JSON.stringify(shape(sidecar)) === JSON.stringify(shape(benignSidecar)) &&
        JSON.stringify(shape(spec)) === JSON.stringify(shape(benign.pod.spec)) &&
        spec.hostNetwork === undefined &&
        (sidecar?.args ?? []).every((arg) => !/(^|[^$])\$\((?!params)/.test(arg.replaceAll('$$', '')))
      );
    }),
    { numRuns: 400 },
  );
  t.pass('400 hostile labels');
});

t.test('hostile annotation keys and values never crash the engine', async (t) => {
  const key = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom(
      'podpattern.dev/',
      'podpattern.dev/sidecar',
      'demo-sidecar.podpattern.dev/',
      '.podpattern.dev/x',
      'a.podpattern.dev/file.x',
      'podpattern.dev/status',
      'podpattern.dev/inject',
    ),
    fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}.podpattern.dev/${b}`),
  );
  fc.assert(
    fc.property(fc.dictionary(key, hostile, { maxKeys: 8 }), (annotations) => {
      const pod = podWith(annotations);
      const result = inject(pod, catalog, options);
      if (result.outcome !== 'injected') return true;
      return JSON.stringify(applyPatch(pod, result.patch)) === JSON.stringify(result.pod);
    }),
    { numRuns: 400 },
  );
  t.pass('400 hostile annotation sets');
});

t.test('a $ in a value cannot reach an environment variable', async (t) => {
  const result = inject(podWith({ 'demo-sidecar.podpattern.dev/label': '$(SECRET)' }), catalog, options);
  t.equal(result.outcome, 'injected');
  if (result.outcome !== 'injected') return;
  const sidecar = result.pod.spec!.containers.find((c) => c.name === 'demo-sidecar')!;
  t.same(sidecar.args?.[3], '--label=$$(SECRET)', 'args: $ doubled, so Kubernetes prints it literally');
  t.same(sidecar.env?.find((e) => e.name === 'LABEL')?.value, '$$(SECRET)', 'env value: $ doubled');
  const file = result.pod.metadata!.annotations!['demo-sidecar.podpattern.dev/file.demo.conf'];
  t.match(file, 'label "$(SECRET)"', 'files are not expanded by Kubernetes, so they are not escaped');
});

t.test('newlines and oversized values are refused with the reason', async (t) => {
  const newline = inject(podWith({ 'demo-sidecar.podpattern.dev/label': 'a\nb' }), catalog, options);
  t.match(newline, { outcome: 'denied', reason: 'invalid-parameter' });
  const huge = inject(podWith({ 'demo-sidecar.podpattern.dev/label': 'x'.repeat(10_001) }), catalog, options);
  t.match(huge, { outcome: 'denied', message: /at most 10000 characters/ });
});
