// Webhook-less mode's feedback at apply time: a ValidatingAdmissionPolicy bound with
// validationActions [Warn], so `kubectl apply` of a Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob prints a warning when its pods will not get what they ask for
// (a template not among those compiled, or several templates, which only the webhook composes)
// or when podpattern annotations sit on the workload's own metadata. A warning never blocks the
// write. The webhook's /validate-workload does the same, with the whole engine, where it runs.
import { PATTERNS } from '../model/template.js';
import { DOMAIN, PATTERN_KEYS } from '../model/keys.js';
import { API_VERSION, bindingMatch, type PolicyOptions } from './compile.js';
import { list, quote } from './cel.js';

export const WORKLOAD_POLICY = 'podpattern-workloads';

const WORKLOADS_WRITTEN = {
  resourceRules: [
    {
      apiGroups: ['apps'],
      apiVersions: ['v1'],
      operations: ['CREATE', 'UPDATE'],
      resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'],
    },
    { apiGroups: ['batch'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['jobs', 'cronjobs'] },
  ],
};

const OURS = `k.startsWith(${quote(`${DOMAIN}/`)}) || k.contains(${quote(`.${DOMAIN}/`)})`;
const TEMPLATE = 'object.spec.template';
const JOB_TEMPLATE = 'object.spec.jobTemplate.spec.template';

/** `root`.metadata.annotations when each step is there, else an empty map. */
function annotationsAt(root: string): string {
  const steps = root.split('.').slice(1);
  const present = steps.map((_, i) => `has(${['object', ...steps.slice(0, i + 1)].join('.')})`).slice(1);
  return `(${[...present, `has(${root}.metadata)`, `has(${root}.metadata.annotations)`].join(' && ')} ? ${root}.metadata.annotations : {})`;
}

/** The policy and its binding, for the templates `installed` (compiled beside it). */
export function workloadWarningPolicies(installed: string[], options: PolicyOptions): Record<string, unknown>[] {
  const metadata = { name: WORKLOAD_POLICY, labels: { 'app.kubernetes.io/name': 'podpattern' } };
  const names = [...new Set(installed)].sort();
  const templateKeys = list(PATTERNS.map((p) => quote(PATTERN_KEYS[p])));
  return [
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Ignore',
        matchConstraints: WORKLOADS_WRITTEN,
        matchConditions: [
          {
            name: 'not-owned-by-a-controller',
            expression:
              '!has(object.metadata.ownerReferences) || !object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller)',
          },
        ],
        variables: [
          { name: 'own', expression: 'has(object.metadata.annotations) ? object.metadata.annotations : {}' },
          { name: 'template', expression: `has(object.spec.jobTemplate) ? ${annotationsAt(JOB_TEMPLATE)} : ${annotationsAt(TEMPLATE)}` },
          {
            name: 'asked',
            expression: `${templateKeys}.filter(k, k in variables.template).map(k, variables.template[k]).join(",").split(",").map(n, n.trim()).filter(n, n != "")`,
          },
          { name: 'missing', expression: `variables.asked.filter(n, !(n in ${list(names.map(quote))}))` },
        ],
        validations: [
          {
            expression: 'variables.missing.size() == 0',
            messageExpression: `"podpattern: the pod template asks for " + variables.missing.join(", ") + ", which is not installed as an admission policy here (" + ${quote(names.join(', '))} + "): its pods will be created without it"`,
          },
          {
            expression: 'variables.missing.size() > 0 || variables.asked.size() <= 1',
            messageExpression:
              '"podpattern: the pod template asks for " + variables.asked.join(", ") + "; admission policies inject a pod that asks for one template, so its pods will be created without them (several templates need the webhook)"',
          },
          {
            expression: `!variables.own.exists(k, ${OURS})`,
            message:
              "podpattern: podpattern annotations are on the workload's own metadata, where podpattern does not look; move them to the pod template's metadata.annotations",
          },
        ],
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: WORKLOAD_POLICY, validationActions: ['Warn'], matchResources: bindingMatch(options) },
    },
  ];
}
