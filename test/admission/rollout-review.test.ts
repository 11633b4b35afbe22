// spec.rollout at admission: the schema's bounds refuse what is out of range (in the catalog's
// own check, which /validate-template and every template source apply, as the API server applies
// the CRD's), and a canary selector that selects no namespace is accepted with a warning.
import t from 'tap';
import { decideTemplate } from '../../src/admission/template-review.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { ImpactDeps } from '../../src/impact/review.js';

const base = {
  pattern: 'adapter',
  description: 'An operator-defined adapter.',
  containers: [{ name: 'ops-echo', image: 'registry.example/echo:1' }],
};

function request(rollout: unknown, operation = 'CREATE'): AdmissionRequest {
  return {
    uid: 'u-1',
    kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: 'PatternTemplate' },
    resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patterntemplates' },
    name: 'ops-echo',
    operation,
    object: { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: 'ops-echo' }, spec: { ...base, rollout } },
  };
}

/** Impact deps with no workloads, and these namespaces' labels (undefined: not known yet). */
function impact(namespaces: Array<Record<string, string>> | undefined): ImpactDeps {
  return { preview: () => new Map(), namespaceLabels: () => namespaces } as unknown as ImpactDeps;
}

t.test('a rollout within its bounds is accepted, with no warning when the canary selects a namespace', async (t) => {
  const rollout = {
    canary: { namespaceSelector: { matchLabels: { stage: 'canary' } }, soakSeconds: 600 },
    restart: 'auto',
    maxConcurrent: 2,
    healthTimeoutSeconds: 300,
    maxInjectedRestarts: 0,
  };
  const answer = decideTemplate(request(rollout), { impact: impact([{ 'kubernetes.io/metadata.name': 'a' }, { stage: 'canary' }]) });
  t.equal(answer.allowed, true);
  t.same(answer.warnings ?? [], []);
});

t.test('a canary selector that selects no namespace: accepted with a warning saying so', async (t) => {
  const rollout = {
    canary: { namespaceSelector: { matchExpressions: [{ key: 'stage', operator: 'In', values: ['canary'] }] } },
    restart: 'auto',
  };
  const answer = decideTemplate(request(rollout), { impact: impact([{ stage: 'prod' }, {}]) });
  t.equal(answer.allowed, true);
  t.match(answer.warnings, [/spec\.rollout\.canary\.namespaceSelector selects no namespace/]);
  t.same(
    decideTemplate(request(rollout), { impact: impact(undefined) }).warnings ?? [],
    [],
    'namespaces not known yet: nothing said rather than a false warning',
  );
  t.same(decideTemplate(request(rollout, 'UPDATE'), {}).warnings ?? [], [], 'without a cluster: nothing said');
});

t.test(
  'bounds out of range, an unknown restart mode, a canary without a selector, a bad expression: refused with each problem',
  async (t) => {
    const cases: Array<[unknown, RegExp]> = [
      [{ maxConcurrent: 0 }, /spec\.rollout\.maxConcurrent.*>= 1/],
      [{ maxConcurrent: 51 }, /spec\.rollout\.maxConcurrent.*<= 50/],
      [{ healthTimeoutSeconds: 29 }, /healthTimeoutSeconds.*>= 30/],
      [{ maxInjectedRestarts: -1 }, /maxInjectedRestarts.*>= 0/],
      [{ canary: { namespaceSelector: {}, soakSeconds: 604_801 } }, /soakSeconds.*<= 604800/],
      [{ restart: 'always' }, /spec\.rollout\.restart.*manual, auto/],
      [{ canary: { soakSeconds: 60 } }, /canary.*namespaceSelector/],
      [{ canary: { namespaceSelector: { matchExpressions: [{ key: 'stage', operator: 'In' }] } } }, /In and NotIn need values/],
      [{ maxConcurent: 2 }, /maxConcurent/],
    ];
    for (const [rollout, problem] of cases) {
      const verdict = validateTemplate(
        { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: 'ops-echo' }, spec: { ...base, rollout } },
        'cluster',
        'ops-echo',
      );
      t.equal(verdict.ok, false, JSON.stringify(rollout));
      if (!verdict.ok) t.match(verdict.problems.join('\n'), problem, JSON.stringify(rollout));
      const answer = decideTemplate(request(rollout), {});
      t.equal(answer.allowed, false);
      t.equal(answer.status?.code, 422);
    }
  },
);

t.test('the rollout is not part of the content hash: changing it makes no pod outdated', async (t) => {
  const hash = (rollout: unknown) => {
    const verdict = validateTemplate(
      {
        apiVersion: 'podpattern.dev/v1alpha1',
        kind: 'PatternTemplate',
        metadata: { name: 'ops-echo' },
        spec: { ...base, ...(rollout === undefined ? {} : { rollout }) },
      },
      'cluster',
      'ops-echo',
    );
    return verdict.ok ? verdict.template.hash : `refused: ${verdict.problems.join('; ')}`;
  };
  t.equal(hash({ restart: 'auto', maxConcurrent: 3 }), hash(undefined));
});
