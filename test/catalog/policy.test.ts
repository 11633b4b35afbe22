// A PatternPolicy judged against the catalog: what fits is accepted; unknown templates and
// parameters, values of the wrong type, bounds wider than the template's and a name other than
// `default` are refused, every problem at once and each naming where it is.
import t from 'tap';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { judgePolicy, readPolicy } from '../../src/catalog/policy.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);

function object(spec: unknown, name = 'default'): unknown {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternPolicy',
    metadata: { name, namespace: 'team-a', uid: 'x', managedFields: [] },
    spec,
    status: { conditions: [] },
  };
}

t.test('a policy that fits the catalog is accepted', async (t) => {
  const judged = judgePolicy(
    object({
      require: [{ template: 'log-normalizer', parameters: { format: 'json', 'max-file-mib': 32 } }],
      forbid: ['git-sync'],
      narrow: {
        'https-proxy': { 'upstream-port': { minimum: 8000, maximum: 9000 } },
        'log-normalizer': { format: { enum: ['json', 'syslog'] }, 'log-dir': { pattern: '^/var/log/.*$' } },
      },
    }),
    catalog,
  );
  t.equal(judged.ok, true, judged.ok ? 'accepted' : judged.problems.join('\n'));
  if (judged.ok) {
    t.same(
      judged.policy.require,
      [{ template: 'log-normalizer', parameters: { format: 'json', 'max-file-mib': '32' } }],
      'parameters are read as annotation strings',
    );
    t.equal(judged.policy.namespace, 'team-a');
  }
  t.equal(judgePolicy(object({}), catalog).ok, true, 'an empty policy is accepted');
});

t.test('every problem at once', async (t) => {
  const judged = judgePolicy(
    object({
      require: [
        { template: 'log-normaliser' },
        { template: 'https-proxy', parameters: { 'upstream-prot': 8080 } },
        { template: 'git-sync', parameters: { repo: 'https://git.example/a/b' } },
      ],
      forbid: ['git-sync', 'nope'],
      narrow: {
        'https-proxy': {
          'upstream-port': { minimum: 0, maximum: 70000 },
          'tls-secret': { minimum: 3 },
          'listen-port': { minimum: 9000, maximum: 8000 },
        },
        'log-normalizer': { format: { enum: ['json', 'xml'] }, colour: { enum: ['red'] } },
        'no-such': { x: { minimum: 1 } },
      },
    }),
    catalog,
  );
  t.equal(judged.ok, false);
  const text = judged.ok ? '' : judged.problems.join('\n');
  for (const expected of [
    /spec.require\[0\].template: no template named 'log-normaliser' in the catalog \(did you mean log-normalizer\?\)/,
    /spec.require\[1\].parameters: https-proxy.podpattern.dev\/upstream-prot: template https-proxy has no parameter 'upstream-prot'/,
    /spec.require\[1\].parameters: https-proxy.podpattern.dev\/tls-secret is required/,
    /spec.require\[2\].template: git-sync is also forbidden by spec.forbid/,
    /spec.forbid\[1\]: no template named 'nope'/,
    /spec.narrow.https-proxy.upstream-port.minimum: 0 is wider than the template's minimum 1; a policy may only narrow/,
    /spec.narrow.https-proxy.upstream-port.maximum: 70000 is wider than the template's maximum 65535/,
    /spec.narrow.https-proxy.tls-secret: minimum and maximum apply only to integer and number parameters/,
    /spec.narrow.https-proxy.listen-port: minimum 9000 is greater than maximum 8000/,
    /spec.narrow.log-normalizer.format.enum\[1\]: "xml" is not a value the template allows/,
    /spec.narrow.log-normalizer.colour: template log-normalizer has no parameter 'colour'/,
    /spec.narrow.no-such: no template named 'no-such'/,
  ])
    t.match(text, expected);
});

t.test('a required parameter value outside the narrowing is refused', async (t) => {
  const judged = judgePolicy(
    object({
      require: [{ template: 'log-normalizer', parameters: { format: 'syslog' } }],
      narrow: { 'log-normalizer': { format: { enum: ['json'] } } },
    }),
    catalog,
  );
  t.equal(judged.ok, false);
  if (!judged.ok) t.match(judged.problems.join('\n'), /'syslog' must be one of "json" \(narrowed by PatternPolicy team-a\/default\)/);
});

t.test('only the policy named default counts', async (t) => {
  const judged = judgePolicy(object({}, 'extra'), catalog);
  t.equal(judged.ok, false);
  if (!judged.ok)
    t.same(
      judged.problems,
      ["(top): a namespace has one PatternPolicy, named 'default'; name it so"],
      "one problem, from the CRD's own rule",
    );
});

t.test('shape and patterns are checked when a policy is read', async (t) => {
  const bad = readPolicy(
    object({
      require: 'log-normalizer',
      narrow: { 'log-normalizer': { 'log-dir': { pattern: 'var/log' }, files: { pattern: '^(a)\\1$' } } },
      extra: true,
    }),
  );
  t.equal(bad.ok, false);
  const text = bad.ok ? '' : bad.problems.join('\n');
  t.match(text, /spec.require: must be array/);
  t.match(text, /spec: unknown field 'extra'/);
  const patterns = readPolicy(
    object({ narrow: { 'log-normalizer': { 'log-dir': { pattern: 'var/log' }, files: { pattern: '^(a)\\1$' } } } }),
  );
  t.equal(patterns.ok, false);
  const patternText = patterns.ok ? '' : patterns.problems.join('\n');
  t.match(patternText, /spec.narrow.log-normalizer.log-dir.pattern: must be anchored/);
  t.match(patternText, /spec.narrow.log-normalizer.files.pattern: not a regular expression podpattern can run in linear time/);
  const huge = readPolicy(object({ forbid: Array.from({ length: 1000 }, (_, i) => `t${i}`) }));
  t.equal(huge.ok, false, 'the lists are bounded');
});
