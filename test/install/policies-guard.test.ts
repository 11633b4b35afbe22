// The final-state check (the ValidatingAdmissionPolicy the chart installs for "required"
// namespaces, and its plain copy in webhook-config/) runs after every mutation: a pod whose
// status podpattern wrote must still hold what podpattern added as it added it. Each case is the
// pod the engine injected, changed as a later admission step could change it, judged by the
// policy's CEL (evaluated with @marcbachmann/cel-js, in the API server's order: variables, then
// validations). Each failed on the policy before these checks.
import { join } from 'node:path';
import t from 'tap';
import { evaluate } from '@marcbachmann/cel-js';
import type { V1Container } from '@kubernetes/client-node';
import { applyPatch, inject, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { find, readManifests, renderChart, webhookConfigDir, type K8sObject } from './helpers.js';

type Pod = PodLike & { metadata: { annotations: Record<string, string> }; spec: { containers: V1Container[]; initContainers?: V1Container[] } };

const policies = [
  ['chart', find(renderChart().objects, 'ValidatingAdmissionPolicy')],
  ['webhook-config', find(readManifests(join(webhookConfigDir, 'validatingadmissionpolicy.yaml')), 'ValidatingAdmissionPolicy')],
] as const;

/** 'allow' or 'deny', for a pod that matches the policy's conditions (it does not opt out). */
function decide(policy: K8sObject, object: unknown): 'allow' | 'deny' {
  const variables: Record<string, unknown> = {};
  const context = { object, namespaceObject: { metadata: { name: 'shop' } }, request: {}, variables };
  for (const variable of policy.spec.variables) variables[variable.name] = evaluate(variable.expression, context);
  return policy.spec.validations.every((v: { expression: string }) => evaluate(v.expression, context) === true) ? 'allow' : 'deny';
}

const builtin = buildCatalog([loadBuiltinTemplates()]);
const annotations = { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' };
const start: Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', annotations }, spec: { containers: [{ name: 'app', image: 'example.org/app:1' }] } };
const result = inject(start, builtin, { nativeSidecars: 'always', namespace: 'shop' });
if (result.outcome !== 'injected') throw new Error(result.outcome);
const genuine = applyPatch<Pod>(start, result.patch);
const proxy = (p: Pod): V1Container => p.spec.initContainers!.find((c) => c.name === 'https-proxy')!;

/** `genuine` changed by `change`. */
function changed(change: (pod: Pod) => void): Pod {
  const pod = structuredClone(genuine);
  change(pod);
  return pod;
}

const cases: Array<[string, Pod, 'allow' | 'deny']> = [
  ['the pod as podpattern injected it', genuine, 'allow'],
  ['its native sidecar\'s restartPolicy dropped', changed((p) => delete proxy(p).restartPolicy), 'deny'],
  ['NET_ADMIN added to its container', changed((p) => (proxy(p).securityContext!.capabilities!.add = ['NET_ADMIN'])), 'deny'],
  ['its container made privileged', changed((p) => (proxy(p).securityContext!.privileged = true)), 'deny'],
  ['privilege escalation allowed', changed((p) => delete proxy(p).securityContext!.allowPrivilegeEscalation), 'deny'],
  ['a file annotation the status does not record', changed((p) => (p.metadata.annotations['other.podpattern.dev/file.x.conf'] = 'x')), 'deny'],
  ['a second sidecars list in the status', changed((p) => (p.metadata.annotations['podpattern.dev/status'] = p.metadata.annotations['podpattern.dev/status']!.replace(/\}$/, ',"sidecars":[]}'))), 'deny'],
  ['a status written before sidecars and grants were recorded', changed((p) => (p.metadata.annotations['podpattern.dev/status'] = p.metadata.annotations['podpattern.dev/status']!.replace(/,"sidecars".*\}$/, '}'))), 'allow'],
  ['the app container privileged (not podpattern\'s)', changed((p) => (p.spec.containers[0]!.securityContext = { privileged: true })), 'allow'],
];

for (const [source, policy] of policies) {
  t.test(`${source}: the final-state check holds podpattern's containers to what it added`, async (t) => {
    t.match(genuine.metadata.annotations['podpattern.dev/status'], /"sidecars":\["https-proxy"\],"grants":\[\]\}$/, 'the status records the native sidecar and no privileges');
    for (const [label, pod, expected] of cases) t.equal(decide(policy, pod), expected, label);
  });
}
