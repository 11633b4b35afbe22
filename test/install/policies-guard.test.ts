// The final-state checks (the ValidatingAdmissionPolicies the chart installs, and their plain
// copies in webhook-config/) run after every mutation: a pod whose status podpattern wrote must
// still hold what podpattern added as it added it. Each case is the pod the engine injected,
// changed as a later admission step could change it, judged by the policies' CEL (evaluated with
// @marcbachmann/cel-js, in the API server's order: matchConditions, variables, then validations,
// with each failed validation's message or messageExpression).
import { join } from 'node:path';
import t from 'tap';
import { evaluate } from '@marcbachmann/cel-js';
import type { V1Container } from '#kube';
import { applyPatch, inject, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { GUARD_CHANGED_IMAGES, GUARD_PORTS, GUARD_SECURITY } from '../../src/policy/integrity.js';
import { find, readManifests, renderChart, webhookConfigDir, type K8sObject } from './helpers.js';

type Pod = PodLike & {
  metadata: { annotations: Record<string, string> };
  spec: { containers: V1Container[]; initContainers?: V1Container[] };
};

const sources = [
  ['chart', renderChart().objects],
  ['webhook-config', readManifests(join(webhookConfigDir, 'validatingadmissionpolicy.yaml'))],
] as const;
const NAMES = ['podpattern-required-injection', 'podpattern-injected-integrity'];

/** What the policies say of a pod: the messages of the validations it fails, none when it passes. */
function judge(policies: K8sObject[], object: unknown): string[] {
  const messages: string[] = [];
  for (const policy of policies) {
    const variables: Record<string, unknown> = {};
    const context = { object, namespaceObject: { metadata: { name: 'shop' } }, request: {}, variables };
    if (!policy.spec.matchConditions.every((c: { expression: string }) => evaluate(c.expression, context) === true)) continue;
    for (const variable of policy.spec.variables) variables[variable.name] = evaluate(variable.expression, context);
    for (const v of policy.spec.validations as Array<{ expression: string; message?: string; messageExpression?: string }>) {
      if (evaluate(v.expression, context) === true) continue;
      messages.push(v.messageExpression === undefined ? (v.message as string) : (evaluate(v.messageExpression, context) as string));
    }
  }
  return messages;
}

const builtin = buildCatalog([loadBuiltinTemplates()]);
const annotations = { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' };
const start: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', annotations },
  spec: { containers: [{ name: 'app', image: 'example.org/app:1' }] },
};
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

const status = (p: Pod): string => p.metadata.annotations['podpattern.dev/status']!;
const withStatus = (p: Pod, text: string): string => (p.metadata.annotations['podpattern.dev/status'] = text);

/** Each case: the pod, and what the policies must say (no message: allowed; a pattern: a message like it). */
const cases: Array<[string, Pod, RegExp | undefined]> = [
  ['the pod as podpattern injected it', genuine, undefined],
  [
    "its native sidecar's restartPolicy dropped",
    changed((p) => delete proxy(p).restartPolicy),
    /changed field restartPolicy of the native sidecar\(s\) https-proxy /,
  ],
  [
    'NET_ADMIN added to its container',
    changed((p) => (proxy(p).securityContext!.capabilities!.add = ['NET_ADMIN'])),
    /changed field securityContext of container\(s\) https-proxy .*privileges/,
  ],
  [
    'its container made privileged',
    changed((p) => (proxy(p).securityContext!.privileged = true)),
    /changed field securityContext of container\(s\) https-proxy/,
  ],
  [
    'privilege escalation allowed',
    changed((p) => delete proxy(p).securityContext!.allowPrivilegeEscalation),
    /changed field securityContext/,
  ],
  [
    'its container run as root',
    changed((p) => (proxy(p).securityContext!.runAsUser = 0)),
    /changed field securityContext of container\(s\) https-proxy podpattern injected;/,
  ],
  [
    'its read-only root filesystem made writable',
    changed((p) => delete proxy(p).securityContext!.readOnlyRootFilesystem),
    /changed field securityContext/,
  ],
  [
    'its seccomp profile made Unconfined',
    changed((p) => (proxy(p).securityContext!.seccompProfile = { type: 'Unconfined' })),
    /changed field securityContext/,
  ],
  [
    'its image replaced',
    changed((p) => (proxy(p).image = 'example.org/evil/nginx:1.29.0-alpine')),
    /changed field image of container\(s\) https-proxy /,
  ],
  ['its image behind a registry mirror', changed((p) => (proxy(p).image = `mirror.corp:5000/${proxy(p).image}`)), undefined],
  [
    'its image under another path of a mirror',
    changed((p) => (proxy(p).image = `mirror.corp/mirror/${proxy(p).image}`)),
    /changed field image/,
  ],
  ['its image given another tag', changed((p) => (proxy(p).image = proxy(p).image!.replace(/:[^:]+$/, ':latest'))), /changed field image/],
  [
    'its image pinned to a digest of the same tag',
    changed((p) => (proxy(p).image = `${proxy(p).image}@sha256:${'a'.repeat(64)}`)),
    undefined,
  ],
  ['its port moved', changed((p) => (proxy(p).ports![0]!.containerPort = 9444)), /changed field ports of container\(s\) https-proxy /],
  ['its port given a hostPort', changed((p) => (proxy(p).ports![0]!.hostPort = 443)), /changed field ports/],
  ["its port's protocol defaulted by the API server", changed((p) => (proxy(p).ports![0]!.protocol = 'TCP')), undefined],
  [
    'a file annotation the status does not record',
    changed((p) => (p.metadata.annotations['other.podpattern.dev/file.x.conf'] = 'x')),
    /does not record/,
  ],
  [
    'a second sidecars list in the status',
    changed((p) => withStatus(p, status(p).replace(/\}$/, ',"sidecars":[]}'))),
    /not in podpattern's format/,
  ],
  [
    'a status written before sidecars, grants and critical fields were recorded',
    changed((p) => withStatus(p, status(p).replace(/,"sidecars".*\}$/, '}'))),
    undefined,
  ],
  [
    'a status written before critical fields were recorded, its image replaced',
    changed((p) => {
      withStatus(p, status(p).replace(/,"images".*\}$/, '}'));
      proxy(p).image = 'example.org/other:1';
    }),
    undefined,
  ],
  [
    "the app container privileged (not podpattern's)",
    changed((p) => (p.spec.containers[0]!.securityContext = { privileged: true })),
    undefined,
  ],
  ["the app's image changed (not podpattern's)", changed((p) => (p.spec.containers[0]!.image = 'example.org/app:2')), undefined],
  [
    'a pod that opts out',
    changed((p) => {
      p.metadata.annotations['podpattern.dev/inject'] = 'false';
      proxy(p).image = 'example.org/other:1';
    }),
    undefined,
  ],
];

for (const [source, objects] of sources) {
  const policies = NAMES.map((name) => find(objects, 'ValidatingAdmissionPolicy', name));
  t.test(`${source}: the final-state checks hold podpattern's containers to what it added, naming the field`, async (t) => {
    t.match(
      status(genuine),
      /"sidecars":\["https-proxy"\],"grants":\[\],"images":\["https-proxy=[^"]+"\],"ports":\["https-proxy=8443\/TCP"\],"securityContexts":\["https-proxy=[^"]+"\]\}$/,
      'the status records the native sidecar, no privileges and the critical fields',
    );
    for (const [label, pod, expected] of cases) {
      const messages = judge(policies, pod);
      if (expected === undefined) t.same(messages, [], label);
      else t.match(messages.join('\n'), expected, label);
    }
  });
}

t.test("the guard's CEL builds ports and securityContext as src/policy/integrity.ts does", async (t) => {
  const integrity = find(
    readManifests(join(webhookConfigDir, 'validatingadmissionpolicy.yaml')),
    'ValidatingAdmissionPolicy',
    'podpattern-injected-integrity',
  );
  const expression = (name: string): string =>
    (integrity.spec.variables as Array<{ name: string; expression: string }>).find((v) => v.name === name)!.expression.replace(/\s+/g, ' ');
  t.equal(expression('changedImages'), GUARD_CHANGED_IMAGES.replace(/\s+/g, ' '), 'image');
  t.ok(expression('changedPorts').includes(GUARD_PORTS.replace(/\s+/g, ' ')), 'ports');
  t.ok(expression('changedSecurityContexts').includes(GUARD_SECURITY.replace(/\s+/g, ' ')), 'securityContext');
});
