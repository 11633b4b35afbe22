// The Helm chart, rendered by a real helm: it lints, and for the default values, cert-manager
// mode, a provided Secret and each optional feature, every object is valid for its kind and
// the objects fit together (ports, Secrets, selectors, certificates).
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { chartDir, find, helm, renderChart, restrictedProblems, validateObject, type K8sObject } from './helpers.js';
import { renderScenario, scenarios } from './chart-scenarios.js';

const render = (name: string): K8sObject[] => renderScenario(name).objects;

t.test('helm lint passes for every scenario', async (t) => {
  for (const [name, set] of Object.entries(scenarios)) {
    const result = helm(['lint', chartDir, ...set.flatMap((v) => (v.startsWith('--') ? [v] : ['--set', v]))]);
    t.equal(result.status, 0, `${name}: ${result.stdout}${result.stderr}`);
  }
});

t.test('every rendered object is valid for its kind', async (t) => {
  for (const name of Object.keys(scenarios)) {
    const result = renderScenario(name);
    t.equal(result.status, 0, `${name} renders: ${result.stderr}`);
    t.ok(result.objects.length > 0, `${name} renders objects`);
    for (const object of result.objects) {
      t.same(await validateObject(object), [], `${name}: ${object.kind}/${object.metadata.name}`);
    }
  }
});

t.test('default values: the objects an install needs, and nothing optional', async (t) => {
  const kinds = render('default')
    .map((o) => o.kind)
    .sort();
  t.same(
    kinds,
    [
      'ClusterRole',
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'CustomResourceDefinition',
      'Deployment',
      'MutatingWebhookConfiguration',
      'Namespace',
      'NetworkPolicy',
      'Pod',
      'PodDisruptionBudget',
      'Role',
      'Role',
      'Role',
      'RoleBinding',
      'RoleBinding',
      'RoleBinding',
      'Secret',
      'Secret',
      'Service',
      'ServiceAccount',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingAdmissionPolicyBinding',
      'ValidatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
    ],
    "Namespace, a ServiceAccount, a Role, a RoleBinding and the Pod are helm test's hooks; the other Roles and RoleBindings keep template revisions and the controllers' Lease",
  );
  const hooks = render('default').filter((o) => o.metadata.annotations?.['helm.sh/hook'] === 'test');
  t.same(
    hooks.map((o) => o.kind).sort(),
    ['Namespace', 'Pod', 'Role', 'RoleBinding', 'ServiceAccount'],
    'helm install creates none of them',
  );
  const weight = (kind: string) => Number(hooks.find((o) => o.kind === kind)?.metadata.annotations['helm.sh/hook-weight'] ?? 0);
  t.ok(
    weight('Namespace') < weight('ServiceAccount') &&
      weight('ServiceAccount') < weight('RoleBinding') &&
      weight('RoleBinding') < weight('Pod'),
    'the namespace first, the pod last',
  );
  t.ok(
    hooks.every((o) => /(^|,)before-hook-creation(,|$)/.test(o.metadata.annotations['helm.sh/hook-delete-policy'])),
    'each replaced by the next helm test',
  );
  t.ok(
    hooks.filter((o) => o.kind !== 'Pod').every((o) => o.metadata.annotations['helm.sh/hook-delete-policy'].includes('hook-succeeded')),
    'and removed once the test has passed',
  );
  const without = renderChart(['test.enabled=false']).objects;
  t.notOk(
    without.some(
      (o) => ['Namespace', 'Pod'].includes(o.kind) || (['Role', 'RoleBinding'].includes(o.kind) && o.metadata.name.endsWith('-probe')),
    ),
    'test.enabled=false drops them',
  );
});

t.test(
  "helm test: a probe pod of podpattern's image, in a namespace labelled for injection, allowed only to create pods there",
  async (t) => {
    const objects = render('default');
    const namespace = find(objects, 'Namespace');
    t.equal(namespace.metadata.name, 'podpattern-test');
    t.equal(namespace.metadata.labels['podpattern.dev/injection'], 'enabled');
    t.notOk(JSON.stringify(find(objects, 'MutatingWebhookConfiguration')).includes('podpattern-test'), 'not an excluded namespace');
    const pod = find(objects, 'Pod');
    t.equal(pod.metadata.annotations['helm.sh/hook'], 'test');
    t.equal(pod.metadata.namespace, 'podpattern-test');
    t.equal(pod.spec.restartPolicy, 'Never');
    t.equal(pod.spec.containers[0].image, find(objects, 'Deployment').spec.template.spec.containers[0].image, "podpattern's own image");
    t.same(pod.spec.containers[0].args, ['probe', '--namespace=podpattern-test', '--template=redis-exporter']);
    t.notOk(
      Object.keys(pod.metadata.annotations ?? {}).some((k) => k.includes('podpattern.dev')),
      'the probe pod is not itself sent to the webhook',
    );
    t.notSame(
      pod.metadata.labels,
      { ...pod.metadata.labels, ...find(objects, 'Service').spec.selector },
      'not selected by the webhook Service',
    );
    t.same(restrictedProblems(pod.spec), [], 'passes Pod Security restricted, which its namespace enforces');
    t.same(find(objects, 'Role', 'podpattern-probe').rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]);
    t.match(find(objects, 'RoleBinding', 'podpattern-probe').subjects, [
      { kind: 'ServiceAccount', name: 'podpattern-probe', namespace: 'podpattern-test' },
    ]);
    t.equal(
      pod.spec.serviceAccountName,
      'podpattern-probe',
      "its own ServiceAccount, made before it (not the namespace's default, which a controller makes later)",
    );
  },
);

t.test('the CRDs are templates (upgraded with the chart), kept on uninstall unless told otherwise', async (t) => {
  for (const name of ['patterntemplates.podpattern.dev', 'patternpolicies.podpattern.dev']) {
    const crd = find(render('default'), 'CustomResourceDefinition', name);
    t.equal(crd.metadata.annotations['helm.sh/resource-policy'], 'keep');
    t.equal(crd.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
    t.notOk(
      find(render('CRD not kept on uninstall'), 'CustomResourceDefinition', name).metadata.annotations,
      'keep=false: no resource policy',
    );
  }
  t.equal(
    helm(['template', 'x', chartDir]).stdout.includes('kind: CustomResourceDefinition'),
    true,
    'rendered without --include-crds: not in crds/',
  );
  t.notOk(
    render('fullnameOverride, CRD not managed').some((o) => o.kind === 'CustomResourceDefinition'),
    'crds.enabled=false: no CRD',
  );
});

t.test('names, labels, environment, volumes and security contexts can be overridden', async (t) => {
  const objects = render('overrides and extras');
  const deployment = find(objects, 'Deployment');
  t.equal(deployment.metadata.name, 'podpattern-hooks', 'nameOverride replaces podpattern in <release>-podpattern');
  for (const object of objects) t.equal(object.metadata.labels?.team, 'platform', `commonLabels on ${object.kind}/${object.metadata.name}`);
  const pod = deployment.spec.template;
  t.match(
    pod.metadata.labels,
    { team: 'platform', tier: 'admission', 'app.kubernetes.io/name': 'podpattern' },
    'the name label stays: the webhooks skip podpattern by it',
  );
  t.notOk(deployment.spec.selector.matchLabels.team, 'the selector (immutable) is untouched');
  t.equal(pod.spec.priorityClassName, 'infra-critical');
  const container = pod.spec.containers[0];
  t.same(container.env.at(-1), { name: 'HTTPS_PROXY', value: 'http://proxy:3128' }, "after the chart's own variables");
  t.same(container.volumeMounts.at(-1), { name: 'extra-ca', mountPath: '/etc/corp-ca', readOnly: true });
  t.same(pod.spec.volumes.at(-1), { name: 'extra-ca', configMap: { name: 'corp-ca' } });
  t.equal(pod.spec.securityContext.fsGroup, 65532);
  t.same(restrictedProblems(pod.spec), [], 'overrides merge into the hardened defaults');
  const full = render('fullnameOverride, CRD not managed');
  t.equal(find(full, 'Deployment').metadata.name, 'pp');
  t.equal(find(full, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.service.name, 'pp', 'the webhook calls the renamed Service');
});

t.test('the Deployment is highly available, hardened and drains before it is killed', async (t) => {
  const deployment = find(render('default'), 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  t.equal(deployment.spec.replicas, 2, 'two replicas');
  t.same(restrictedProblems(pod), [], 'passes Pod Security restricted, with a read-only root filesystem');
  t.notOk('priorityClassName' in pod, "the cluster's default priority (system-cluster-critical is a value away)");
  t.same(
    deployment.spec.strategy,
    { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    'a rollout keeps every replica until its replacement is ready',
  );
  t.same(
    pod.topologySpreadConstraints.map((c: { topologyKey: string; whenUnsatisfiable: string }) => [c.topologyKey, c.whenUnsatisfiable]),
    [
      ['kubernetes.io/hostname', 'DoNotSchedule'],
      ['topology.kubernetes.io/zone', 'ScheduleAnyway'],
    ],
    'never two replicas on a node while another can take one; zones a preference, so one zone (or none labelled) still schedules',
  );
  t.equal(
    pod.topologySpreadConstraints[0].nodeTaintsPolicy,
    'Honor',
    "a cordoned node is no domain to balance against, so a drain's replacement schedules",
  );
  for (const spread of pod.topologySpreadConstraints)
    t.same(spread.labelSelector.matchLabels, deployment.spec.selector.matchLabels, 'spread counts this Deployment’s pods');
  t.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory, 'resources set');
  t.same(
    container.volumeMounts.find((m: { name: string }) => m.name === 'tmp'),
    { name: 'tmp', mountPath: '/tmp' },
    '/tmp is the only writable path',
  );

  const healthPort = container.ports.find((p: { name: string }) => p.name === 'http-health');
  t.equal(healthPort.containerPort, 8080);
  t.match(container.readinessProbe, { httpGet: { path: '/readyz', port: 'http-health' } });
  t.match(container.livenessProbe, { httpGet: { path: '/healthz', port: 'http-health' } });

  const drain = Number(container.args.find((a: string) => a.startsWith('--drain-seconds=')).split('=')[1]);
  const preStop = container.lifecycle.preStop.sleep.seconds;
  t.ok(
    pod.terminationGracePeriodSeconds > preStop + drain,
    `grace ${pod.terminationGracePeriodSeconds}s > preStop ${preStop}s + drain ${drain}s`,
  );
  t.match(container.args, [
    'serve',
    '--port=8443',
    '--health-port=8080',
    '--tls-cert-file=/etc/podpattern/tls/tls.crt',
    '--tls-key-file=/etc/podpattern/tls/tls.key',
  ]);

  const pdb = find(render('default'), 'PodDisruptionBudget');
  t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB covers the Deployment');
  t.equal(pdb.spec.maxUnavailable, 1);
});

t.test('autoscaling: an autoscaling/v2 HorizontalPodAutoscaler on CPU owns the replicas', async (t) => {
  const objects = render('autoscaling');
  const deployment = find(objects, 'Deployment');
  const hpa = find(objects, 'HorizontalPodAutoscaler');
  t.equal(hpa.apiVersion, 'autoscaling/v2');
  t.same(
    hpa.spec.scaleTargetRef,
    { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name },
    'it scales this Deployment',
  );
  t.match(hpa.spec, { minReplicas: 3, maxReplicas: 8 });
  t.same(hpa.spec.metrics, [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
  t.notOk('replicas' in deployment.spec, 'the Deployment leaves replicas to the autoscaler');
  t.ok(deployment.spec.template.spec.containers[0].resources.requests.cpu, 'utilisation has a CPU request to be a percentage of');
  t.equal(deployment.spec.template.spec.topologySpreadConstraints.length, 2, 'spread, since minReplicas is 2 or more');
  t.notOk(
    render('default').some((o) => o.kind === 'HorizontalPodAutoscaler'),
    'off by default',
  );
});

t.test('replicas, spread and disruption budget: what each value renders', async (t) => {
  const single = find(render('one replica, no PDB'), 'Deployment');
  t.equal(single.spec.replicas, 1);
  t.notOk('topologySpreadConstraints' in single.spec.template.spec, 'one replica: nothing to spread');

  const percentages = render('percentages that leave a replica');
  t.same(
    find(percentages, 'Deployment').spec.strategy.rollingUpdate,
    { maxUnavailable: '25%', maxSurge: 0 },
    'a percentage stays a string',
  );
  t.equal(find(percentages, 'PodDisruptionBudget').spec.maxUnavailable, '50%');

  const swapped = find(render('spread preferences swapped'), 'Deployment').spec.template.spec.topologySpreadConstraints;
  t.same(
    swapped.map((c: { whenUnsatisfiable: string }) => c.whenUnsatisfiable),
    ['ScheduleAnyway', 'DoNotSchedule'],
  );

  const own = find(render('own spread constraints'), 'Deployment').spec.template.spec.topologySpreadConstraints;
  t.same(
    own,
    [
      {
        maxSkew: 2,
        topologyKey: 'example.org/rack',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'podpattern' } },
      },
    ],
    'given constraints replace the two defaults',
  );

  t.equal(find(render('system-cluster-critical'), 'Deployment').spec.template.spec.priorityClassName, 'system-cluster-critical');
});

t.test('the Service sends 443 to the webhook port and selects the pods', async (t) => {
  const objects = render('default');
  const service = find(objects, 'Service');
  const pod = find(objects, 'Deployment').spec.template;
  const https = service.spec.ports.find((p: { name: string }) => p.name === 'https');
  t.equal(https.port, 443);
  const target = pod.spec.containers[0].ports.find((p: { name: string }) => p.name === https.targetPort);
  t.equal(target.containerPort, 8443, 'targetPort https is container port 8443');
  for (const [key, value] of Object.entries(service.spec.selector)) t.equal(pod.metadata.labels[key], value, `pods carry ${key}`);
  const webhook = find(objects, 'MutatingWebhookConfiguration').webhooks[0];
  t.match(webhook.clientConfig.service, { name: service.metadata.name, namespace: service.metadata.namespace, port: 443, path: '/mutate' });
});

t.test('ServiceMonitor scrapes the Service metrics port', async (t) => {
  const objects = render('ServiceMonitor');
  const monitor = find(objects, 'ServiceMonitor');
  const service = find(objects, 'Service');
  t.ok(
    service.spec.ports.some((p: { name: string }) => p.name === monitor.spec.endpoints[0].port),
    'the port exists on the Service',
  );
  t.equal(monitor.spec.endpoints[0].path, '/metrics');
  t.equal(monitor.metadata.labels.release, 'prometheus', 'extra labels for the Prometheus selector');
  for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) t.equal(service.metadata.labels[key], value);
  t.notOk(
    render('default').some((o) => o.kind === 'ServiceMonitor'),
    'off by default',
  );
});

t.test('namespace defaults: every pod in opted-in namespaces goes to the webhook', async (t) => {
  const objects = render('namespace defaults');
  for (const webhook of find(objects, 'MutatingWebhookConfiguration').webhooks) {
    t.same(
      webhook.matchConditions.map((c: { name: string }) => c.name),
      ['not-a-mirror-pod'],
      webhook.name,
    );
  }
  const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
  t.match(policy.spec.validations[0].expression, /namespaceObject\.metadata\.annotations/, 'the policy also counts namespace defaults');
  t.notOk(
    JSON.stringify(policy.spec.matchConditions).includes('namespaceObject'),
    'in its validation: the API server gives matchConditions no namespaceObject',
  );
});

t.test('optional features switch off cleanly', async (t) => {
  const objects = render('no ValidatingAdmissionPolicy, no PDB, no spread');
  for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'PodDisruptionBudget'])
    t.notOk(
      objects.some((o) => o.kind === kind),
      `no ${kind}`,
    );
  t.notOk('topologySpreadConstraints' in find(objects, 'Deployment').spec.template.spec);

  const catalog = find(render('catalog ConfigMap and extra args'), 'Deployment').spec.template.spec;
  t.match(catalog.containers[0].args, ['serve']);
  t.ok(catalog.containers[0].args.includes('--catalog-dir=/etc/podpattern/catalog'));
  t.ok(catalog.containers[0].args.includes('--log-level=debug'));
  t.match(
    catalog.volumes.find((v: { name: string }) => v.name === 'catalog'),
    { configMap: { name: 'my-templates' } },
  );

  const pinned = find(render('image digest, no priority class'), 'Deployment').spec.template.spec;
  t.equal(pinned.containers[0].image, `ghcr.io/podpattern/podpattern@sha256:${'a'.repeat(64)}`);
  t.notOk('priorityClassName' in pinned);
});

t.test(
  'controllers: on by default with the heal settings; off drops the flag values, the Lease Role and the workload patch rule',
  async (t) => {
    const on = render('default');
    const args = find(on, 'Deployment').spec.template.spec.containers[0].args as string[];
    t.same(
      args.filter((a) => a.startsWith('--heal-')),
      ['--heal-grace-seconds=60', '--heal-restarts-per-minute=5', '--heal-interval-seconds=30'],
    );
    t.ok(on.some((o) => o.kind === 'Role' && o.metadata.name === 'podpattern-leader'));
    const off = renderChart(['controllers.enabled=false', 'controllers.heal.graceSeconds=5'], 'podpattern', 'podpattern');
    t.equal(off.status, 0, off.stderr);
    const offArgs = find(off.objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    t.ok(offArgs.includes('--controllers=off'));
    t.notOk(offArgs.some((a) => a.startsWith('--heal-')));
    t.notOk(
      off.objects.some((o) => ['Role', 'RoleBinding'].includes(o.kind) && o.metadata.name === 'podpattern-leader'),
      'no Lease RBAC',
    );
    t.notOk(JSON.stringify(find(off.objects, 'ClusterRole', 'podpattern').rules).includes('deployments'), 'no workload patch RBAC');
    const bad = renderChart(['controllers.heal.restartsPerMinute=601'], 'podpattern', 'podpattern');
    t.not(bad.status, 0, 'a rate out of bounds fails the install');
    t.match(bad.stderr, /restartsPerMinute/);
  },
);

t.test(
  'rollouts: on by default with their interval and RBAC (the pause annotation); off says --rollout=off and grants no PatternTemplate patch; the promoted label is written by every replica either way',
  async (t) => {
    const on = render('default');
    const args = find(on, 'Deployment').spec.template.spec.containers[0].args as string[];
    t.same(
      args.filter((a) => a.startsWith('--rollout')),
      ['--rollout=on', '--rollout-interval-seconds=10'],
    );
    const templatePatch = (objects: typeof on) =>
      (find(objects, 'ClusterRole', 'podpattern').rules as Array<{ resources: string[]; verbs: string[] }>).some(
        (r) => r.resources.includes('patterntemplates') && r.verbs.includes('patch'),
      );
    const revisionPatch = (objects: typeof on) =>
      (find(objects, 'Role', 'podpattern-revisions').rules as Array<{ resources: string[]; verbs: string[] }>).some(
        (r) => r.resources.includes('controllerrevisions') && r.verbs.includes('patch'),
      );
    t.ok(templatePatch(on), 'PatternTemplates patched (the pause annotation)');
    t.ok(revisionPatch(on), 'ControllerRevisions patched (the promoted label)');
    const off = renderChart(['controllers.rollout.enabled=false', 'controllers.rollout.intervalSeconds=30'], 'podpattern', 'podpattern');
    t.equal(off.status, 0, off.stderr);
    const offArgs = find(off.objects, 'Deployment').spec.template.spec.containers[0].args as string[];
    t.ok(offArgs.includes('--rollout=off'));
    t.notOk(templatePatch(off.objects), 'no PatternTemplate patch');
    // Every replica keeps the revisions and labels a template's first one promoted, controllers or not.
    t.ok(revisionPatch(off.objects), 'ControllerRevisions still patched (the revisions podpattern keeps)');
    const none = renderChart(['controllers.enabled=false'], 'podpattern', 'podpattern');
    t.notOk(templatePatch(none.objects), 'no controllers, no PatternTemplate patch');
    t.ok(revisionPatch(none.objects), 'and ControllerRevisions still patched');
    const bad = renderChart(['controllers.rollout.intervalSeconds=1'], 'podpattern', 'podpattern');
    t.not(bad.status, 0, 'an interval out of bounds fails the install');
    t.match(bad.stderr, /intervalSeconds/);
  },
);

t.test('another release name and namespace: names follow, exclusions include the namespace', async (t) => {
  const result = renderChart([], 'acme', 'hooks');
  t.equal(result.status, 0, result.stderr);
  for (const object of result.objects) t.same(await validateObject(object), [], `${object.kind}/${object.metadata.name}`);
  const mwc = find(result.objects, 'MutatingWebhookConfiguration');
  t.equal(mwc.metadata.name, 'acme-podpattern');
  for (const webhook of mwc.webhooks) {
    t.match(webhook.clientConfig.service, { name: 'acme-podpattern', namespace: 'hooks' });
    const excluded = webhook.namespaceSelector.matchExpressions.find((e: { key: string }) => e.key === 'kubernetes.io/metadata.name');
    t.same(excluded.values, ['kube-system', 'kube-node-lease', 'hooks']);
  }
  const leaf = new X509Certificate(Buffer.from(find(result.objects, 'Secret', 'acme-podpattern-tls').data['tls.crt'], 'base64'));
  t.equal(leaf.checkHost('acme-podpattern.hooks.svc'), 'acme-podpattern.hooks.svc');
});
