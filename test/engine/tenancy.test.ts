// Who may use which template (a template's spec.availability) and what a namespace requires (its
// PatternPolicy), through the engine: every injected pod is the patch applied to the input, and
// every denial carries its code and says where the template is available or which policy refuses.
import t from 'tap';
import { catalogWithAvailableGitSync } from '../helpers/catalog.js';
import { applyPatch, inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { readPolicy } from '../../src/catalog/policy.js';
import type { Policy } from '../../src/model/policy.js';
import { selects } from '../../src/engine/availability.js';

const builtins = loadBuiltinTemplates();

const catalogWith = catalogWithAvailableGitSync;

function pod(annotations: Record<string, string>, extra: { serviceAccountName?: string; namespace?: string } = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: extra.namespace ?? 'team-a', annotations },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/app:1' }],
      ...(extra.serviceAccountName === undefined ? {} : { serviceAccountName: extra.serviceAccountName }),
    },
  };
}

const options = (namespace: string, more: Partial<InjectOptions> = {}): InjectOptions => ({
  nativeSidecars: 'always',
  namespace,
  serverVersion: { major: 1, minor: 37 },
  ...more,
});
const wantsGitSync = { 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': 'https://git.example/org/site' };

function injectedNames(p: PodLike): string[] {
  return [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name);
}

t.test('label selectors follow metav1.LabelSelector', async (t) => {
  const labels = { team: 'a', tier: 'web' };
  t.ok(selects({}, labels), 'an empty selector selects everything');
  t.ok(selects({ matchLabels: { team: 'a' } }, labels));
  t.notOk(selects({ matchLabels: { team: 'b' } }, labels));
  t.ok(selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, labels));
  t.notOk(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels));
  t.ok(selects({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['x'] }] }, labels), 'NotIn holds where the label is absent');
  t.ok(selects({ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, labels));
  t.notOk(selects({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, labels));
  t.notOk(selects({ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels), 'every term must hold');
});

t.test('a template available by namespace label', async (t) => {
  const catalog = catalogWith({ namespaceSelector: { matchLabels: { team: 'a' } } });
  const inA = inject(
    pod(wantsGitSync),
    catalog,
    options('team-a', { namespaceLabels: { 'kubernetes.io/metadata.name': 'team-a', team: 'a' } }),
  );
  t.equal(inA.outcome, 'injected', 'a pod of the selected namespace gets it');
  if (inA.outcome === 'injected') t.same(applyPatch(pod(wantsGitSync), inA.patch), inA.pod, 'and the patch gives that pod');

  const inB = inject(
    pod(wantsGitSync, { namespace: 'team-b' }),
    catalog,
    options('team-b', { namespaceLabels: { 'kubernetes.io/metadata.name': 'team-b', team: 'b' } }),
  );
  t.match(inB, { outcome: 'denied', reason: 'not-available' }, 'a pod of another namespace is denied not-available');
  if (inB.outcome === 'denied') {
    t.match(
      inB.message,
      /template git-sync is not available to pods of ServiceAccount default in namespace team-b; it is available to namespaces team=a/,
      'saying where it is available',
    );
    t.same(
      inB.problems.map((p) => p.template),
      ['git-sync'],
    );
  }

  const unknown = inject(pod(wantsGitSync), catalog, options('team-a'));
  t.match(unknown, { outcome: 'denied', reason: 'not-available' }, 'labels not known: never injected on a guess');
  if (unknown.outcome === 'denied') t.match(unknown.message, /only the namespace's name is known here/);
});

t.test('a selector on the namespace name works without the labels', async (t) => {
  const catalog = catalogWith({
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a'] }] },
  });
  t.equal(inject(pod(wantsGitSync), catalog, options('team-a')).outcome, 'injected');
  t.match(inject(pod(wantsGitSync, { namespace: 'team-b' }), catalog, options('team-b')), { outcome: 'denied', reason: 'not-available' });
});

t.test('a template available to ServiceAccounts', async (t) => {
  const catalog = catalogWith({ serviceAccounts: ['deployer', 'team-b/ci'] });
  t.equal(
    inject(pod(wantsGitSync, { serviceAccountName: 'deployer' }), catalog, options('team-a')).outcome,
    'injected',
    'a bare name: that account in any namespace',
  );
  t.equal(
    inject(pod(wantsGitSync, { serviceAccountName: 'ci', namespace: 'team-b' }), catalog, options('team-b')).outcome,
    'injected',
    'namespace/name: that account',
  );
  const other = inject(pod(wantsGitSync, { serviceAccountName: 'ci' }), catalog, options('team-a'));
  t.match(other, { outcome: 'denied', reason: 'not-available' }, 'ci of another namespace is not ci of team-b');
  if (other.outcome === 'denied')
    t.match(
      other.message,
      /ServiceAccount ci in namespace team-a; it is available to namespaces \(any\); ServiceAccounts deployer, team-b\/ci/,
    );
  t.match(
    inject(pod(wantsGitSync), catalog, options('team-a')),
    { outcome: 'denied', reason: 'not-available' },
    'a pod naming no account runs as default',
  );
});

t.test('namespace defaults never apply a template where it is not available', async (t) => {
  const catalog = catalogWith({ namespaceSelector: { matchLabels: { team: 'a' } } });
  const defaults = {
    'podpattern.dev/sidecar': 'git-sync',
    'git-sync.podpattern.dev/repo': 'https://git.example/org/site',
    'podpattern.dev/adapter': 'log-normalizer',
  };
  const result = inject(
    pod({}, { namespace: 'team-b' }),
    catalog,
    options('team-b', { namespaceAnnotations: defaults, namespaceLabels: { team: 'b' } }),
  );
  t.equal(result.outcome, 'injected', 'the pod is admitted with the defaults it may have');
  if (result.outcome !== 'injected') return;
  t.same(
    result.templates.map((x) => x.name),
    ['log-normalizer'],
  );
  t.notOk(injectedNames(result.pod).includes('git-sync'), 'git-sync is not injected');
  t.match(result.warnings.join('\n'), /the namespace's default template git-sync is not applied here: template git-sync is not available/);
});

function policy(spec: unknown, namespace = 'team-a'): Policy {
  const read = readPolicy({ apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default', namespace }, spec });
  if (!read.ok) throw new Error(read.problems.join('\n'));
  return read.policy;
}

const catalog = buildCatalog([builtins]);

t.test('a required template is injected into a bare pod, with the policy parameters', async (t) => {
  const required = policy({ require: [{ template: 'log-normalizer', parameters: { format: 'json' } }] });
  const bare = pod({});
  const result = inject(bare, catalog, options('team-a', { policy: required }));
  t.equal(result.outcome, 'injected');
  if (result.outcome !== 'injected') return;
  t.same(
    result.templates.map((x) => x.name),
    ['log-normalizer'],
  );
  t.equal(result.parameters['log-normalizer']?.['format'], 'json', 'the policy parameter is in force');
  t.same(applyPatch(bare, result.patch), result.pod, 'the patch applied to the bare pod gives the injected pod');
  t.match(
    inject(result.pod, catalog, options('team-a', { policy: required })),
    { outcome: 'skipped', reason: 'already-injected' },
    'and injecting again changes nothing',
  );

  const own = inject(
    pod({
      'log-normalizer.podpattern.dev/format': 'syslog',
      'podpattern.dev/sidecar': 'git-sync',
      'git-sync.podpattern.dev/repo': 'https://git.example/org/site',
    }),
    catalog,
    options('team-a', { policy: required }),
  );
  t.equal(own.outcome, 'injected', 'a pod asking for other templates gets the required one too');
  if (own.outcome === 'injected') {
    t.same(own.templates.map((x) => x.name).sort(), ['git-sync', 'log-normalizer']);
    t.equal(own.parameters['log-normalizer']?.['format'], 'syslog', "the pod's own parameter wins over the policy's");
  }
});

t.test('an opt-out is refused where a policy requires templates', async (t) => {
  const required = policy({ require: [{ template: 'log-normalizer' }] });
  const optOut = inject(pod({ 'podpattern.dev/inject': 'false' }), catalog, options('team-a', { policy: required }));
  t.match(optOut, { outcome: 'denied', reason: 'required-by-policy' });
  if (optOut.outcome === 'denied')
    t.match(optOut.message, /podpattern.dev\/inject: "false" is refused: PatternPolicy team-a\/default requires log-normalizer/);
  t.match(
    inject(pod({ 'podpattern.dev/inject': 'false' }), catalog, options('team-a', { policy: policy({ forbid: ['git-sync'] }) })),
    { outcome: 'skipped', reason: 'opted-out' },
    'a policy requiring nothing leaves the opt-out alone',
  );
  const mirror = pod({ 'podpattern.dev/inject': 'false', 'kubernetes.io/config.mirror': 'abc' });
  t.match(
    inject(mirror, catalog, options('team-a', { policy: required })),
    { outcome: 'skipped', reason: 'opted-out' },
    'a mirror pod is never held to a policy',
  );
  t.match(
    inject(pod({ 'kubernetes.io/config.mirror': 'abc' }), catalog, options('team-a', { policy: required })),
    { outcome: 'skipped', reason: 'not-requested' },
    'nor given its templates',
  );
});

t.test('a forbidden template is denied; namespace defaults skip it', async (t) => {
  const forbidding = policy({ forbid: ['git-sync'] });
  const asked = inject(pod(wantsGitSync), catalog, options('team-a', { policy: forbidding }));
  t.match(asked, { outcome: 'denied', reason: 'forbidden-by-policy' });
  if (asked.outcome === 'denied')
    t.match(asked.message, /template git-sync is forbidden in namespace team-a by PatternPolicy team-a\/default/);
  const defaults = inject(pod({}), catalog, options('team-a', { policy: forbidding, namespaceAnnotations: wantsGitSync }));
  t.match(defaults, { outcome: 'skipped', reason: 'not-requested' }, 'a forbidden default is not applied');
  t.match(defaults.warnings.join('\n'), /default template git-sync is not applied here/);
});

t.test('narrowed bounds apply to parameter values, defaults included', async (t) => {
  const narrowing = policy({ narrow: { 'https-proxy': { 'upstream-port': { minimum: 9000, maximum: 9100 } } } });
  const ask = (port?: string) =>
    pod({
      'podpattern.dev/sidecar': 'https-proxy',
      'https-proxy.podpattern.dev/tls-secret': 'web-tls',
      ...(port === undefined ? {} : { 'https-proxy.podpattern.dev/upstream-port': port }),
    });
  t.equal(inject(ask('9050'), catalog, options('team-a', { policy: narrowing })).outcome, 'injected', 'a value inside the narrowed bounds');
  const outside = inject(ask('8081'), catalog, options('team-a', { policy: narrowing }));
  t.match(outside, { outcome: 'denied', reason: 'invalid-parameter' });
  if (outside.outcome === 'denied') t.match(outside.message, /'8081' must be at least 9000 \(narrowed by PatternPolicy team-a\/default\)/);
  const byDefault = inject(ask(), catalog, options('team-a', { policy: narrowing }));
  t.match(byDefault, { outcome: 'denied', reason: 'invalid-parameter' }, "the template's default 8080 is outside the narrowing");
  t.equal(inject(ask('8081'), catalog, options('team-b')).outcome, 'injected', 'another namespace keeps the template bounds');
  const widening = policy({ narrow: { 'https-proxy': { 'upstream-port': { maximum: 70000 } } } });
  t.match(
    inject(ask('65536'), catalog, options('team-a', { policy: widening })),
    { outcome: 'denied', reason: 'invalid-parameter' },
    'a stored widening never widens',
  );
  const enumNarrowing = policy({ narrow: { 'log-normalizer': { format: { enum: ['json'] } } } });
  t.match(
    inject(
      pod({ 'podpattern.dev/adapter': 'log-normalizer', 'log-normalizer.podpattern.dev/format': 'syslog' }),
      catalog,
      options('team-a', { policy: enumNarrowing }),
    ),
    { outcome: 'denied', reason: 'invalid-parameter' },
  );
  const patternNarrowing = policy({ narrow: { 'log-normalizer': { 'log-dir': { pattern: '^/var/log/.*$' } } } });
  t.match(
    inject(
      pod({ 'podpattern.dev/adapter': 'log-normalizer', 'log-normalizer.podpattern.dev/log-dir': '/srv/logs' }),
      catalog,
      options('team-a', { policy: patternNarrowing }),
    ),
    { outcome: 'denied', reason: 'invalid-parameter' },
  );
  t.equal(
    inject(
      pod({ 'podpattern.dev/adapter': 'log-normalizer', 'log-normalizer.podpattern.dev/log-dir': '/var/log/web' }),
      catalog,
      options('team-a', { policy: patternNarrowing }),
    ).outcome,
    'injected',
  );
});

t.test('a required template the catalog lacks denies pods naming both; an unreadable policy fails closed', async (t) => {
  const required = policy({ require: [{ template: 'audit-tap' }] });
  const result = inject(pod({}), catalog, options('team-a', { policy: required }));
  t.match(result, { outcome: 'denied', reason: 'required-by-policy' });
  if (result.outcome === 'denied')
    t.match(result.message, /PatternPolicy team-a\/default requires template audit-tap, which is not in the catalog/);
  const unreadable = inject(pod({}), catalog, options('team-a', { policy: 'unreadable' }));
  t.match(unreadable, { outcome: 'denied', reason: 'required-by-policy' });
  if (unreadable.outcome === 'denied') t.match(unreadable.message, /namespace team-a has a PatternPolicy that podpattern cannot read now/);
});
