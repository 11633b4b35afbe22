// Webhook-less mode's podpattern-required-templates: where a namespace's PatternPolicy requires a
// template that has no compiled policies (deleted, or never compiled), the pod is denied in the
// webhook's words, naming the policy and the template; a pod whose status lists the template
// (the webhook beside the policies injected it) is admitted. Its CEL is evaluated with
// @marcbachmann/cel-js (the API server runs cel-go on the same expressions).
import t from 'tap';
import { inject, type InjectionResult, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { readPolicy } from '../../src/catalog/policy.js';
import { selects } from '../../src/engine/availability.js';
import { REQUIRED_POLICY, requiredTemplatePolicies } from '../../src/policy/required.js';
import type { Catalog, LabelSelector } from '../../src/model/template.js';
import { denialOf, matchesConditions, variablesOf, type Admission, type CompiledPolicy } from '../helpers/policy-eval.js';

const builtins = loadBuiltinTemplates();
const full = buildCatalog([builtins]);
/** The catalog once log-normalizer and storm-logs are deleted. */
const deleted = buildCatalog([
  { ...builtins, templates: builtins.templates.filter((x) => x.name !== 'log-normalizer' && x.name !== 'storm-logs') },
]);
/** What `podpattern policy` compiled: every template left. */
const installed = deleted.list().map((x) => x.name);
const [policy, binding] = requiredTemplatePolicies(installed, { ownNamespace: 'podpattern' }) as unknown as [
  CompiledPolicy,
  { spec: { paramRef: unknown; validationActions: string[]; matchResources: { namespaceSelector: LabelSelector } } },
];

function pod(annotations: Record<string, string>): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', annotations },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
}

function requiring(...templates: string[]): Admission {
  return {
    namespace: 'shop',
    params: {
      apiVersion: 'podpattern.dev/v1alpha1',
      kind: 'PatternPolicy',
      metadata: { name: 'default', namespace: 'shop' },
      spec: { require: templates.map((template) => ({ template })) },
    },
  };
}

/** The webhook's answer for the same request; no admission: no PatternPolicy. */
function webhook(p: PodLike, catalog: Catalog, admission?: Admission): InjectionResult {
  const namespace = admission?.namespace ?? 'shop';
  let read;
  if (admission?.params !== undefined) {
    const result = readPolicy(admission.params, namespace);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    read = result.policy;
  }
  return inject({ ...p, metadata: { ...p.metadata, namespace } }, catalog, {
    nativeSidecars: 'always',
    namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
    serverVersion: { major: 1, minor: 37 },
    policy: read,
  });
}

/** The webhook's denial on one line, as a policy's message must read. */
function oneLine(result: InjectionResult): string | undefined {
  return result.outcome === 'denied' ? result.message.split('\n- ').join(' - ') : undefined;
}

/** The pod as stored after the policies (or the webhook) injected what it asks for. */
function injected(p: PodLike, catalog: Catalog, admission?: Admission): PodLike {
  const result = webhook(p, catalog, admission);
  if (result.outcome !== 'injected') throw new Error(`not injected: ${result.outcome}`);
  return result.pod;
}

t.test("the policy and its binding: the PatternPolicy default of the pod's namespace, denying", async (t) => {
  t.equal(policy.metadata.name, REQUIRED_POLICY);
  t.same(binding.spec.paramRef, { selector: {}, parameterNotFoundAction: 'Allow' }, 'a namespace without a policy is not judged');
  t.same(binding.spec.validationActions, ['Deny']);
  const served = { 'podpattern.dev/injection': 'enabled' };
  const selector = binding.spec.matchResources.namespaceSelector;
  t.ok(selects(selector, { ...served, 'kubernetes.io/metadata.name': 'shop' }), 'a namespace podpattern serves is bound');
  t.notOk(selects(selector, { ...served, 'kubernetes.io/metadata.name': 'podpattern' }), "podpattern's own namespace is not");
  t.notOk(selects(selector, { ...served, 'kubernetes.io/metadata.name': 'kube-system' }), 'nor kube-system');
});

t.test("a required template that was deleted: the webhook's denial, word for word, naming the policy and the template", async (t) => {
  const cases: [string, PodLike, Admission][] = [
    ['a bare pod', pod({}), requiring('log-normalizer')],
    ['two deleted templates required', pod({}), requiring('log-normalizer', 'storm-logs')],
    ['an opt-out', pod({ 'podpattern.dev/inject': 'false' }), requiring('log-normalizer')],
  ];
  for (const [label, p, admission] of cases) {
    const expected = oneLine(webhook(p, deleted, admission));
    t.ok(expected, `${label}: the webhook denies it`);
    t.equal(denialOf(policy, p, admission), expected, `${label}: ${expected ?? ''}`);
  }
  t.match(
    denialOf(policy, pod({}), requiring('log-normalizer')),
    /^podpattern cannot inject this pod: PatternPolicy shop\/default requires template log-normalizer, which is not in the catalog \(deleted\?\)/,
  );
  // A pod asking for a template that is compiled: its own policies inject it, and this one
  // reads the stored pod, whose status lists that template and not the deleted one.
  const asks = pod({ 'podpattern.dev/adapter': 'redis-exporter' });
  const expected = oneLine(webhook(asks, deleted, requiring('log-normalizer')));
  t.equal(
    denialOf(policy, injected(asks, deleted), requiring('log-normalizer')),
    expected,
    'a pod injected with another template: the same denial',
  );
});

t.test("a pod whose status lists every required template passes; a compiled required template is its own policies' to judge", async (t) => {
  // The webhook beside the policies, whose catalog still holds log-normalizer, injected it.
  const stored = injected(pod({}), full, requiring('log-normalizer'));
  t.ok(matchesConditions(policy, stored, requiring('log-normalizer')), 'judged…');
  t.equal(denialOf(policy, stored, requiring('log-normalizer')), undefined, '…and admitted');
  const both = injected(pod({}), full, requiring('log-normalizer', 'storm-logs'));
  t.equal(denialOf(policy, both, requiring('log-normalizer', 'storm-logs')), undefined, 'two required templates, both injected');
  t.match(
    denialOf(policy, injected(pod({}), full, requiring('log-normalizer')), requiring('log-normalizer', 'storm-logs')),
    /requires template storm-logs, which is not in the catalog/,
    'one of two injected: the other is named',
  );
  const compiledHere = requiredTemplatePolicies([...installed, 'log-normalizer'], {
    ownNamespace: 'podpattern',
  })[0] as unknown as CompiledPolicy;
  t.equal(
    variablesOf(compiledHere, pod({}), requiring('log-normalizer')).judged,
    false,
    'a required template compiled beside it: not judged (its PatternPolicy pair injects it, or says why it cannot)…',
  );
  t.equal(denialOf(compiledHere, pod({ 'podpattern.dev/inject': 'false' }), requiring('log-normalizer')), undefined, '…an opt-out neither');
  t.equal(denialOf(policy, pod({}), requiring('log-normalizer', 'https-proxy')), undefined, 'nor a policy requiring one among several');
});

t.test('mirror pods, and namespaces whose policy requires nothing, are not judged', async (t) => {
  t.notOk(matchesConditions(policy, pod({ 'kubernetes.io/config.mirror': 'x' }), requiring('log-normalizer')), 'a mirror pod');
  t.equal(webhook(pod({ 'kubernetes.io/config.mirror': 'x' }), deleted, requiring('log-normalizer')).outcome, 'skipped', 'as the webhook');
  const forbidding: Admission = {
    namespace: 'shop',
    params: { apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternPolicy', metadata: { name: 'default' }, spec: { forbid: ['git-sync'] } },
  };
  t.notOk(matchesConditions(policy, pod({}), forbidding), 'a policy that requires nothing');
  t.notOk(matchesConditions(policy, pod({}), requiring()), 'an empty require');
});
