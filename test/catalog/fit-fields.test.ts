// The template fields that fit a pod to its cluster (sizing, imagePullSecrets, os,
// keepLocalVolumes): refused with every reason when malformed, from any source alike.
import t from 'tap';
import { validateTemplate } from '../../src/catalog/validate.js';

function template(spec: Record<string, unknown>, container: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'fit' },
    spec: {
      pattern: 'sidecar',
      description: 'A template.',
      containers: [{ name: 'fit', image: 'example.org/fit:1', resources: { requests: { cpu: '100m', memory: '64Mi' } }, ...container }],
      ...spec,
    },
  };
}

function problems(object: unknown): string {
  const verdict = validateTemplate(object, 'file:fit.yaml', 'fit');
  return verdict.ok ? '' : verdict.problems.join('\n');
}

t.test('well-formed fields are accepted, and a template without them keeps its hash', async (t) => {
  const plain = validateTemplate(template({}), 'builtin', 'fit');
  const full = validateTemplate(
    template({
      sizing: { cpu: { min: '50m', max: '1' }, memory: { min: '32Mi', max: '256Mi' } },
      imagePullSecrets: [{ name: 'registry.example-1' }],
      os: ['linux', 'windows'],
      keepLocalVolumes: true,
    }),
    'builtin',
    'fit',
  );
  t.equal(plain.ok && full.ok, true, problems(template({ sizing: { cpu: { min: '50m', max: '1' } } })));
  if (plain.ok && full.ok) t.not(plain.template.hash, full.template.hash);
  if (plain.ok) t.notOk('os' in plain.template.spec || 'sizing' in plain.template.spec, 'absent fields stay absent');
});

t.test('malformed fields are refused, each with its reason', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    ['min above max', template({ sizing: { cpu: { min: '2', max: '1' } } }), /spec\.sizing\.cpu: min 2 is above max 1/],
    [
      'not a quantity',
      template({ sizing: { memory: { min: 'lots', max: '1Gi' } } }),
      /spec\.sizing\.memory\.min: 'lots' is not a positive Kubernetes quantity/,
    ],
    ['a bound without its pair', template({ sizing: { cpu: { min: '1m' } } }), /spec\.sizing\.cpu: missing required field 'max'/],
    [
      'a container without the request',
      template({ sizing: { cpu: { min: '1m', max: '1' } } }, { resources: {} }),
      /container 'fit' must request cpu/,
    ],
    [
      'a default request outside the bounds',
      template({ sizing: { memory: { min: '128Mi', max: '1Gi' } } }),
      /container 'fit' requests 64Mi, outside 128Mi to 1Gi/,
    ],
    [
      'a parameter named cpu',
      template({ parameters: { cpu: { type: 'string', enum: ['a'] } } }),
      /spec\.parameters\.cpu: 'cpu' is the sizing parameter every template has/,
    ],
    ['an unknown sizing resource', template({ sizing: { gpu: { min: '1', max: '2' } } }), /spec\.sizing: unknown field 'gpu'/],
    ['a pull secret twice', template({ imagePullSecrets: [{ name: 'a' }, { name: 'a' }] }), /spec\.imagePullSecrets: holds \["a"\] twice/],
    [
      'a pull secret named by a placeholder',
      template({ imagePullSecrets: [{ name: '$(params.x)' }] }),
      /spec\.imagePullSecrets\.0\.name: must match pattern/,
    ],
    ['an unknown operating system', template({ os: ['plan9'] }), /spec\.os\.0: must be one of linux, windows/],
    ['no operating system', template({ os: [] }), /spec\.os: must NOT have fewer than 1 items/],
    ['keepLocalVolumes as text', template({ keepLocalVolumes: 'yes' }), /spec\.keepLocalVolumes: must be boolean/],
  ];
  for (const [label, object, reason] of cases) t.match(problems(object), reason, label);
});
