// webhook-config/ (the plain manifests for `kubectl apply`): every object is valid, the
// kustomization lists every file, the webhook entries select the namespaces and pods that
// docs/install.md describes, and the chart renders the same objects apart from templated
// names and labels.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { find, readManifests, renderChart, restrictedProblems, validateObject, webhookConfigDir, type K8sObject } from './helpers.js';

const files = readdirSync(webhookConfigDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const placeholder = 'CA_BUNDLE_PLACEHOLDER';
const fakeBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

/** The plain objects, with the caBundle filled in the way docs/install.md does it. */
function plainObjects(): K8sObject[] {
  return files
    .filter((f) => f !== 'kustomization.yaml')
    .flatMap((f) => readManifests(join(webhookConfigDir, f)))
    .map((o) => JSON.parse(JSON.stringify(o).replaceAll(placeholder, fakeBundle)) as K8sObject);
}

t.test('every object in webhook-config/ is valid for its kind', async (t) => {
  const objects = plainObjects();
  t.ok(objects.length >= 10);
  for (const object of objects) t.same(await validateObject(object), [], `${object.kind}/${object.metadata.name}`);
  t.same(restrictedProblems(find(objects, 'Deployment').spec.template.spec), [], 'the Deployment passes Pod Security restricted');
});

t.test('the validation used here does catch invalid objects', async (t) => {
  const deployment = structuredClone(find(plainObjects(), 'Deployment'));
  deployment.spec.replicas = 'two';
  delete deployment.spec.template.spec.containers[0].name;
  t.match((await validateObject(deployment)).join('\n'), /replicas must be integer[\s\S]*required property name/);
  t.match(await validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' } }), [/namespaced object has no namespace/]);
});

t.test('kustomization.yaml lists every manifest except the one with the caBundle placeholder', async (t) => {
  const [kustomization] = readManifests(join(webhookConfigDir, 'kustomization.yaml'));
  const expected = files.filter((f) => f !== 'kustomization.yaml' && f !== 'mutatingwebhookconfiguration.yaml');
  t.same([...(kustomization as K8sObject).resources].sort(), expected);
  const unfilled = readManifests(join(webhookConfigDir, 'mutatingwebhookconfiguration.yaml'))[0] as K8sObject;
  for (const webhook of unfilled.webhooks) {
    t.equal(webhook.clientConfig.caBundle, placeholder, `${webhook.name}: the placeholder is there to be filled`);
    t.notMatch(webhook.clientConfig.caBundle, /^[A-Za-z0-9+/]*={0,2}$/, 'and is not valid base64, so applying it unfilled fails');
  }
});

t.test('the webhook entries: two namespace modes, each with and without namespace defaults', async (t) => {
  const mwc = find(plainObjects(), 'MutatingWebhookConfiguration');
  t.same(
    mwc.webhooks.map((w: { name: string; failurePolicy: string }) => [w.name, w.failurePolicy]),
    [
      ['injection-enabled.podpattern.dev', 'Ignore'],
      ['defaults-enabled.podpattern.dev', 'Ignore'],
      ['injection-required.podpattern.dev', 'Fail'],
      ['defaults-required.podpattern.dev', 'Fail'],
      ['policy-required.podpattern.dev', 'Fail'],
    ],
  );
  const policyEntry = mwc.webhooks[4];
  t.same(
    policyEntry.namespaceSelector.matchExpressions,
    [
      { key: 'podpattern.dev/policy', operator: 'In', values: ['require'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'podpattern'] },
    ],
    'policy-required: namespaces whose PatternPolicy requires templates, never the excluded ones',
  );
  t.same(
    policyEntry.matchConditions.map((c: { name: string }) => c.name),
    ['not-a-mirror-pod'],
    'every pod there but mirror pods, annotated or not',
  );
  t.same(policyEntry.objectSelector, mwc.webhooks[0].objectSelector, "and never podpattern's own pods");
  for (const webhook of mwc.webhooks.slice(0, 4)) {
    const [entry, mode] = webhook.name.split('.')[0].split('-');
    t.same(
      webhook.rules,
      [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      `${mode}: CREATE pods only`,
    );
    t.match(webhook, { sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 5, reinvocationPolicy: 'IfNeeded' });
    t.same(
      webhook.namespaceSelector.matchExpressions,
      [
        { key: 'podpattern.dev/injection', operator: 'In', values: [mode] },
        { key: 'podpattern.dev/defaults', operator: entry === 'defaults' ? 'In' : 'NotIn', values: ['enabled'] },
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'podpattern'] },
      ],
      `${webhook.name}: the labels, never kube-system, kube-node-lease or podpattern's namespace`,
    );
    const deployment = find(plainObjects(), 'Deployment');
    const ownLabels = deployment.spec.template.metadata.labels;
    const [own] = webhook.objectSelector.matchExpressions;
    t.equal(own.operator, 'NotIn');
    t.ok(own.values.includes(ownLabels[own.key]), `${mode}: the objectSelector excludes podpattern's own pods`);
    const conditions = Object.fromEntries(webhook.matchConditions.map((c: { name: string; expression: string }) => [c.name, c.expression]));
    if (entry === 'injection') t.match(conditions['has-a-podpattern-annotation'], "k.startsWith('podpattern.dev/')");
    else t.equal(conditions['has-a-podpattern-annotation'], undefined, `${webhook.name}: every pod, for the namespace's defaults`);
    t.match(conditions['not-a-mirror-pod'], "!('kubernetes.io/config.mirror' in object.metadata.annotations)");
  }
});

t.test('the workloads entry: warnings only, for the workload kinds, in every opted-in namespace', async (t) => {
  const vwc = find(plainObjects(), 'ValidatingWebhookConfiguration', 'podpattern-workloads');
  t.equal(vwc.webhooks.length, 1);
  const [webhook] = vwc.webhooks;
  t.match(webhook, {
    name: 'workloads.podpattern.dev',
    failurePolicy: 'Ignore',
    sideEffects: 'None',
    clientConfig: { service: { path: '/validate-workload' } },
  });
  t.same(
    webhook.rules.flatMap((r: { apiGroups: string[]; resources: string[] }) =>
      r.resources.map((resource) => `${r.apiGroups[0]}/${resource}`),
    ),
    ['apps/deployments', 'apps/statefulsets', 'apps/daemonsets', 'apps/replicasets', 'batch/jobs', 'batch/cronjobs'],
    'the workload kinds, their main resource only (no status or scale)',
  );
  t.same(webhook.namespaceSelector.matchExpressions[0], {
    key: 'podpattern.dev/injection',
    operator: 'In',
    values: ['enabled', 'required'],
  });
  t.same(webhook.objectSelector, find(plainObjects(), 'MutatingWebhookConfiguration').webhooks[0].objectSelector);
  t.same(
    webhook.matchConditions.map((c: { name: string }) => c.name),
    ['has-a-podpattern-annotation', 'not-owned-by-a-controller', 'created-or-changed'],
  );
});

t.test('the ValidatingAdmissionPolicy guards required namespaces only, and spares opted-out pods', async (t) => {
  const objects = plainObjects();
  const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
  const binding = find(objects, 'ValidatingAdmissionPolicyBinding', 'podpattern-required-injection');
  t.equal(binding.spec.policyName, policy.metadata.name);
  t.same(binding.spec.validationActions, ['Deny']);
  const required = find(objects, 'MutatingWebhookConfiguration').webhooks[2];
  t.same(
    binding.spec.matchResources.namespaceSelector.matchExpressions,
    required.namespaceSelector.matchExpressions.filter((e: { key: string }) => e.key !== 'podpattern.dev/defaults'),
    'the namespaces of both fail-closed webhook entries',
  );
  t.same(binding.spec.matchResources.objectSelector, required.objectSelector);
  t.match(policy.spec.validations[0].expression, "'podpattern.dev/status' in object.metadata.annotations");
  t.same(
    policy.spec.matchConditions.map((c: { name: string }) => c.name),
    ['not-a-mirror-pod', 'not-opted-out'],
  );
});

t.test('the integrity guard denies in required namespaces and warns in enabled ones', async (t) => {
  const objects = plainObjects();
  const webhooks = find(objects, 'MutatingWebhookConfiguration').webhooks;
  for (const [mode, action] of [
    ['required', 'Deny'],
    ['enabled', 'Warn'],
  ] as const) {
    const binding = find(objects, 'ValidatingAdmissionPolicyBinding', `podpattern-injected-integrity-${mode}`);
    t.equal(binding.spec.policyName, 'podpattern-injected-integrity');
    t.same(binding.spec.validationActions, [action], mode);
    const entry = webhooks.find((w: { name: string }) => w.name.startsWith(`injection-${mode}`));
    t.same(
      binding.spec.matchResources.namespaceSelector.matchExpressions,
      [
        { key: 'podpattern.dev/injection', operator: 'In', values: [mode] },
        ...entry.namespaceSelector.matchExpressions.filter((e: { key: string }) => e.key === 'kubernetes.io/metadata.name'),
      ],
      `${mode}: the namespaces of the ${mode} webhook entry`,
    );
    t.same(binding.spec.matchResources.objectSelector, entry.objectSelector);
  }
});

/** Drops what legitimately differs (Helm's labels, the instance label in selectors, the caBundle) and maps release names. */
function normalize(value: unknown, names: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, names));
  if (typeof value === 'string') {
    // The release's full name is replaced anywhere (it prefixes other names); the namespace only as a whole word.
    return Object.entries(names).reduce(
      (s, [from, to]) =>
        from.includes('-') ? s.replaceAll(from, to) : s.replace(new RegExp(`(^|[^-a-z0-9])${from}(?=$|[^-a-z0-9])`, 'g'), `$1${to}`),
      value,
    );
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'labels' || key === 'caBundle') continue;
    if (key === 'matchLabels' && child && typeof child === 'object') {
      out[key] = { 'app.kubernetes.io/name': (child as Record<string, string>)['app.kubernetes.io/name'] };
      continue;
    }
    if (key === 'selector' && child && typeof child === 'object' && !('matchLabels' in child) && !('matchExpressions' in child)) {
      out[key] = { 'app.kubernetes.io/name': (child as Record<string, string>)['app.kubernetes.io/name'] }; // a Service selector
      continue;
    }
    out[key] = normalize(child, names);
  }
  return out;
}

t.test('the chart renders the same objects as webhook-config/, apart from templated names', async (t) => {
  const plain = plainObjects();
  const releases: Array<[string, string, Record<string, string>]> = [
    ['podpattern', 'podpattern', {}],
    ['acme', 'hooks', { 'acme-podpattern': 'podpattern', hooks: 'podpattern' }],
  ];
  for (const [release, namespace, names] of releases) {
    const chart = renderChart(['test.enabled=false'], release, namespace); // helm test's hooks are the chart's alone
    t.equal(chart.status, 0, chart.stderr);
    for (const name of ['podpattern-templates', 'podpattern-workloads']) {
      const vwc = normalize(
        find(
          chart.objects,
          'ValidatingWebhookConfiguration',
          release === 'podpattern' ? name : name.replace('podpattern', 'acme-podpattern'),
        ),
        names,
      );
      t.same(
        vwc,
        normalize(find(plain, 'ValidatingWebhookConfiguration', name), {}),
        `${release}/${namespace}: ValidatingWebhookConfiguration ${name} matches webhook-config/`,
      );
    }
    for (const kind of [
      'MutatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'Service',
      'Deployment',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'ServiceAccount',
      'CustomResourceDefinition',
    ]) {
      const ofKind = chart.objects.filter((o) => o.kind === kind);
      t.equal(ofKind.length, plain.filter((o) => o.kind === kind).length, `${release}: as many ${kind} objects as webhook-config/`);
      for (const object of ofKind) {
        const fromChart = normalize(object, names) as K8sObject;
        // Helm-only: the chart keeps its CRDs on uninstall (kubectl has no uninstall to guard against).
        if (kind === 'CustomResourceDefinition') {
          t.same(fromChart.metadata.annotations, { 'helm.sh/resource-policy': 'keep' }, `${release}: the CRD survives helm uninstall`);
          delete fromChart.metadata.annotations;
        }
        const fromPlain = normalize(find(plain, kind, fromChart.metadata.name), {}) as K8sObject;
        // Namespace-level details of the chart (annotations it adds) are compared too: none are expected.
        t.same(fromChart, fromPlain, `${release}/${namespace}: ${kind} ${fromChart.metadata.name} matches webhook-config/`);
      }
    }
  }
});

t.test('the ClusterRole grants exactly what the server uses, Events being create-only, pods list and watch only', async (t) => {
  t.same(find(plainObjects(), 'ClusterRole', 'podpattern').rules, [
    { apiGroups: ['podpattern.dev'], resources: ['patterntemplates'], verbs: ['list', 'watch'] },
    { apiGroups: ['podpattern.dev'], resources: ['patterntemplates/status'], verbs: ['patch'] },
    { apiGroups: ['podpattern.dev'], resources: ['patternpolicies'], verbs: ['list', 'watch'] },
    { apiGroups: ['podpattern.dev'], resources: ['patternpolicies/status'], verbs: ['patch'] },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch', 'patch'] },
    { apiGroups: [''], resources: ['limitranges'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['get'] },
    { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets'], verbs: ['get', 'patch'] },
    { apiGroups: ['podpattern.dev'], resources: ['patterntemplates'], verbs: ['patch'] },
  ]);
  t.same(
    find(plainObjects(), 'Role', 'podpattern-leader').rules,
    [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['podpattern-controllers'], verbs: ['get', 'update'] },
    ],
    "the controllers' Lease, in its own namespace only",
  );
  t.same(
    find(plainObjects(), 'Role', 'podpattern-revisions').rules,
    [{ apiGroups: ['apps'], resources: ['controllerrevisions'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] }],
    'template revisions, in its own namespace only',
  );
});

t.test('tenant admins and editors write PatternPolicies, viewers read them, and none writes PatternTemplates', async (t) => {
  const objects = plainObjects();
  const admin = find(objects, 'ClusterRole', 'podpattern-policy-admin');
  const view = find(objects, 'ClusterRole', 'podpattern-policy-view');
  t.match(admin.metadata.labels, {
    'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
    'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
  });
  t.match(view.metadata.labels, { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });
  const writes = (role: K8sObject, resource: string) =>
    role.rules.some(
      (r: { resources: string[]; verbs: string[] }) =>
        r.resources.includes(resource) && r.verbs.some((v) => ['create', 'update', 'patch', 'delete'].includes(v)),
    );
  t.ok(writes(admin, 'patternpolicies'), 'policy-admin writes PatternPolicies');
  t.notOk(
    writes(admin, 'patterntemplates') || writes(admin, 'patternpolicies/status'),
    'but neither PatternTemplates nor the status podpattern writes',
  );
  t.notOk(writes(view, 'patternpolicies') || writes(view, 'patterntemplates'), 'policy-view writes nothing');
});
