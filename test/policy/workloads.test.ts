// Webhook-less mode's workload warnings, evaluated with @marcbachmann/cel-js as the API server
// evaluates a ValidatingAdmissionPolicy: variables in order, then each validation; a failed
// validation under validationActions [Warn] is a warning with its message, never a refusal.
import t from 'tap';
import { evaluate } from '@marcbachmann/cel-js';
import { workloadWarningPolicies } from '../../src/policy/workloads.js';

type Named = { name: string; expression: string };
type Validation = { expression: string; message?: string; messageExpression?: string };
type Policy = { spec: { matchConditions: Named[]; variables: Named[]; validations: Validation[] } };

const [policy, binding] = workloadWarningPolicies(['https-proxy', 'git-sync'], { ownNamespace: 'podpattern' }) as [
  Policy & { kind: string },
  { spec: { validationActions: string[] } },
];

/** The warnings the API server would return for `object`; undefined when the policy does not match it. */
function warnings(object: unknown): string[] | undefined {
  if (!policy.spec.matchConditions.every((c) => evaluate(c.expression, { object }) === true)) return undefined;
  const variables: Record<string, unknown> = {};
  for (const variable of policy.spec.variables) variables[variable.name] = evaluate(variable.expression, { object, variables });
  return policy.spec.validations
    .filter((v) => evaluate(v.expression, { object, variables }) !== true)
    .map((v) =>
      v.messageExpression === undefined ? (v.message as string) : (evaluate(v.messageExpression, { object, variables }) as string),
    );
}

const deployment = (template?: Record<string, string>, own?: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', ...(own ? { annotations: own } : {}), ...extra },
  spec: { template: { metadata: { ...(template ? { annotations: template } : {}) }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
});
const cronJob = (template: Record<string, string>) => ({
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'render' },
  spec: { schedule: '@hourly', jobTemplate: { spec: { template: { metadata: { annotations: template }, spec: { containers: [] } } } } },
});

t.test('the binding only warns', async (t) => {
  t.equal(policy.kind, 'ValidatingAdmissionPolicy');
  t.same(binding.spec.validationActions, ['Warn']);
});

t.test('a workload asking for a template that is compiled: no warning', async (t) => {
  t.same(warnings(deployment({ 'podpattern.dev/sidecar': 'https-proxy' })), []);
  t.same(warnings(cronJob({ 'podpattern.dev/sidecar': ' git-sync ' })), []);
  t.same(warnings(deployment()), [], 'nothing asked, nothing said');
  t.same(warnings({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bare' }, spec: {} }), [], 'no template at all');
});

t.test('a misspelt template names what is installed', async (t) => {
  t.same(warnings(deployment({ 'podpattern.dev/sidecar': 'https-proxx' })), [
    'podpattern: the pod template asks for https-proxx, which is not installed as an admission policy here (git-sync, https-proxy): its pods will be created without it',
  ]);
  t.match(warnings(cronJob({ 'podpattern.dev/adapter': 'nope' })), [/asks for nope, which is not installed/]);
});

t.test('several templates: only the webhook composes them', async (t) => {
  t.match(warnings(deployment({ 'podpattern.dev/sidecar': 'https-proxy,git-sync' })), [
    /asks for https-proxy, git-sync; admission policies inject a pod that asks for one template/,
  ]);
});

t.test("annotations on the workload's own metadata", async (t) => {
  t.match(warnings(deployment(undefined, { 'podpattern.dev/sidecar': 'https-proxy' })), [/on the workload's own metadata/]);
  t.match(warnings(deployment(undefined, { 'https-proxy.podpattern.dev/tls-secret': 'x' })), [/on the workload's own metadata/]);
  t.same(warnings(deployment(undefined, { 'notpodpattern.dev/x': 'y' })), []);
});

t.test('a workload a controller owns is not matched (its owner was)', async (t) => {
  const owned = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u', controller: true }] };
  t.equal(warnings(deployment({ 'podpattern.dev/sidecar': 'nope' }, undefined, owned)), undefined);
});
