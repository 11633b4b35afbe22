// The CEL in the install (webhook matchConditions, the ValidatingAdmissionPolicy, the CRD's
// validation rules) parses, and decides as the README says for representative pods.
// Evaluated with @marcbachmann/cel-js, a CEL implementation in JavaScript: the API server uses
// cel-go, but these expressions use only the standard macros (has, exists, all, map, filter, in,
// matches, size) and split/indexOf/substring, which Kubernetes' CEL has from its strings library.
import { join } from 'node:path';
import { evaluate, parse } from '@marcbachmann/cel-js';
import t from 'tap';
import { patternTemplateSchema } from '../../src/catalog/crd-schema.js';
import { find, readManifests, renderChart, webhookConfigDir, type K8sObject } from './helpers.js';

type Condition = { name: string; expression: string };

const plain = ['mutatingwebhookconfiguration.yaml', 'validatingadmissionpolicy.yaml'].flatMap((f) =>
  readManifests(join(webhookConfigDir, f)),
);
const chartDefault = renderChart().objects;
const chartDefaults = renderChart(['webhook.namespaceDefaults=true']).objects;

/** All conditions hold (how the API server combines matchConditions). */
function matches(conditions: Condition[], context: Record<string, unknown>): boolean {
  return conditions.every((c) => evaluate(c.expression, context) === true);
}

const pod = (
  annotations?: Record<string, string>,
  containers = ['app', 'https-proxy'],
): { metadata: Record<string, unknown>; spec: Record<string, unknown> } => ({
  metadata: { name: 'app', namespace: 'shop', ...(annotations ? { annotations } : {}) },
  spec: { containers: containers.map((name) => ({ name, image: 'x' })) },
});
const namespace = (annotations?: Record<string, string>) => ({ metadata: { name: 'shop', ...(annotations ? { annotations } : {}) } });

function celRules(schema: unknown, found: string[] = []): string[] {
  if (Array.isArray(schema)) schema.forEach((s) => celRules(s, found));
  else if (schema && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'x-kubernetes-validations') found.push(...(value as Array<{ rule: string }>).map((v) => v.rule));
      else celRules(value, found);
    }
  }
  return found;
}

t.test('every CEL expression parses', async (t) => {
  const expressions: string[] = [...celRules(patternTemplateSchema)];
  for (const objects of [plain, chartDefault, chartDefaults]) {
    for (const webhook of find(objects, 'MutatingWebhookConfiguration').webhooks)
      expressions.push(...webhook.matchConditions.map((c: Condition) => c.expression));
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
    expressions.push(
      ...policy.spec.matchConditions.map((c: Condition) => c.expression),
      ...policy.spec.variables.map((v: Condition) => v.expression),
      ...policy.spec.validations.map((v: { expression: string }) => v.expression),
    );
  }
  t.ok(expressions.length > 10);
  for (const expression of new Set(expressions)) t.doesNotThrow(() => parse(expression), expression);
});

const podCases: Array<[string, Record<string, string> | undefined, boolean]> = [
  ['no annotations', undefined, false],
  ['unrelated annotations', { 'prometheus.io/scrape': 'true' }, false],
  ['a sidecar', { 'podpattern.dev/sidecar': 'https-proxy' }, true],
  ['an ambassador', { 'podpattern.dev/ambassador': 'redis-shard' }, true],
  ['an adapter', { 'podpattern.dev/adapter': 'redis-exporter' }, true],
  ['only a parameter', { 'https-proxy.podpattern.dev/tls-secret': 'x' }, true],
  ['a misspelt key', { 'podpattern.dev/sidcar': 'https-proxy' }, true],
  ['only the opt-out', { 'podpattern.dev/inject': 'false' }, true],
  ['a look-alike domain', { 'notpodpattern.dev/sidecar': 'x', 'example.com/podpattern.dev': 'y' }, false],
  ['a mirror pod asking for a sidecar', { 'podpattern.dev/sidecar': 'https-proxy', 'kubernetes.io/config.mirror': 'abc' }, false],
];

t.test('injection-* entries see only pods with a podpattern.dev annotation (typos too), never mirror pods', async (t) => {
  for (const [source, objects] of [
    ['webhook-config', plain],
    ['chart', chartDefault],
  ] as const) {
    for (const webhook of find(objects, 'MutatingWebhookConfiguration').webhooks.filter((w: { name: string }) =>
      w.name.startsWith('injection-'),
    )) {
      for (const [label, annotations, expected] of podCases) {
        t.equal(
          matches(webhook.matchConditions, { object: pod(annotations), request: {} }),
          expected,
          `${source} ${webhook.name}: ${label}`,
        );
      }
    }
  }
});

t.test('defaults-* entries (namespaces labelled podpattern.dev/defaults=enabled) see every pod but mirror pods', async (t) => {
  for (const [source, objects] of [
    ['webhook-config', plain],
    ['chart', chartDefault],
  ] as const) {
    const entries = find(objects, 'MutatingWebhookConfiguration').webhooks.filter((w: { name: string }) => w.name.startsWith('defaults-'));
    t.equal(entries.length, 2, `${source}: one per namespace mode`);
    for (const webhook of entries) {
      t.equal(
        matches(webhook.matchConditions, { object: pod(), request: {} }),
        true,
        `${source} ${webhook.name}: a pod with no annotations`,
      );
      t.equal(
        matches(webhook.matchConditions, { object: pod({ 'kubernetes.io/config.mirror': 'a' }), request: {} }),
        false,
        `${source} ${webhook.name}: a mirror pod`,
      );
    }
  }
});

t.test('with namespaceDefaults, every pod but mirror pods reaches the webhook', async (t) => {
  for (const webhook of find(chartDefaults, 'MutatingWebhookConfiguration').webhooks) {
    t.equal(matches(webhook.matchConditions, { object: pod(), request: {} }), true, 'a pod with no annotations');
    t.equal(matches(webhook.matchConditions, { object: pod({ 'kubernetes.io/config.mirror': 'a' }), request: {} }), false, 'a mirror pod');
  }
});

/**
 * What the policy decides: 'skip' (does not apply), 'allow' or 'deny'. As in the API server,
 * matchConditions see no namespaceObject (k8s.io/apiserver's matchconditions matcher passes a
 * nil namespace, so it is null there); only the variables and validations see the namespace.
 * Variables are evaluated in order, as the API server does.
 */
function decide(policy: K8sObject, object: unknown, namespaceObject: unknown): 'skip' | 'allow' | 'deny' {
  if (!matches(policy.spec.matchConditions, { object, namespaceObject: null, request: {} })) return 'skip';
  const variables: Record<string, unknown> = {};
  const context = { object, namespaceObject, request: {}, variables };
  for (const variable of policy.spec.variables ?? []) variables[variable.name] = evaluate(variable.expression, context);
  return policy.spec.validations.every((v: { expression: string }) => evaluate(v.expression, context) === true) ? 'allow' : 'deny';
}

t.test('the policy refuses uninjected pods that ask for a pattern, and only those', async (t) => {
  // As podpattern writes it (JSON.stringify of the record).
  const record = (containers: string[], initContainers: string[] = []) => ({
    'podpattern.dev/status': JSON.stringify({
      templates: [{ name: 'https-proxy', pattern: 'sidecar', hash: '0123456789abcdef' }],
      containers,
      initContainers,
      volumes: [],
      annotations: [],
      appEnv: [],
      appVolumeMounts: [],
    }),
  });
  const status = record(['https-proxy']);
  const cases: Array<[string, Record<string, string> | undefined, 'skip' | 'allow' | 'deny']> = [
    ['no annotations', undefined, 'allow'],
    ['asks, not injected', { 'podpattern.dev/sidecar': 'https-proxy' }, 'deny'],
    ['asks, injected', { 'podpattern.dev/sidecar': 'https-proxy', ...status }, 'allow'],
    ['asks, opted out', { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/inject': 'false' }, 'skip'],
    ['asks, inject annotation not "false"', { 'podpattern.dev/adapter': 'redis-exporter', 'podpattern.dev/inject': 'true' }, 'deny'],
    ['a mirror pod', { 'podpattern.dev/sidecar': 'x', 'kubernetes.io/config.mirror': 'a' }, 'skip'],
    [
      'a forged status naming a container the pod does not have',
      { 'podpattern.dev/sidecar': 'https-proxy', ...record(['https-proxy', 'absent']) },
      'deny',
    ],
    ['a forged status naming only absent containers', { 'podpattern.dev/sidecar': 'https-proxy', ...record(['mesh-proxy']) }, 'deny'],
    ['a forged status naming no container', { 'podpattern.dev/sidecar': 'https-proxy', ...record([]) }, 'deny'],
    [
      "a status not in podpattern's format",
      { 'podpattern.dev/sidecar': 'https-proxy', 'podpattern.dev/status': '{"templates":[], "containers" : ["app"]}' },
      'deny',
    ],
    [
      'a status with a second containers list',
      {
        'podpattern.dev/sidecar': 'https-proxy',
        'podpattern.dev/status': `${status['podpattern.dev/status'].slice(0, -1)},"containers":["x"]}`,
      },
      'deny',
    ],
    [
      'a native sidecar recorded as an init container, present there',
      { 'podpattern.dev/sidecar': 'https-proxy', ...record([], ['https-proxy']) },
      'allow',
    ],
  ];
  for (const [source, objects] of [
    ['webhook-config', plain],
    ['chart', chartDefault],
    ['chart, namespaceDefaults', chartDefaults],
  ] as const) {
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
    for (const [label, annotations, expected] of cases)
      t.equal(decide(policy, pod(annotations), namespace()), expected, `${source}: ${label}`);
  }
  const withDefaults = namespace({ 'podpattern.dev/sidecar': 'https-proxy' });
  const labelled = { metadata: { ...withDefaults.metadata, labels: { 'podpattern.dev/defaults': 'enabled' } } };
  for (const [source, objects] of [
    ['webhook-config', plain],
    ['chart', chartDefault],
  ] as const) {
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
    t.equal(
      decide(policy, pod(), withDefaults),
      'allow',
      `${source}: namespace annotations without the defaults label are not counted (the webhook does not see those pods either)`,
    );
    t.equal(decide(policy, pod(), labelled), 'deny', `${source}: under a labelled namespace's defaults, an uninjected pod is refused`);
    t.equal(decide(policy, pod(status), labelled), 'allow', `${source}: an injected one passes`);
    t.equal(
      decide(policy, pod(), { metadata: { name: 'shop', labels: { 'podpattern.dev/defaults': 'enabled' } } }),
      'allow',
      `${source}: a labelled namespace without pattern annotations asks for nothing`,
    );
  }
  t.equal(
    decide(find(chartDefaults, 'ValidatingAdmissionPolicy', 'podpattern-required-injection'), pod(), withDefaults),
    'deny',
    'namespaceDefaults: an uninjected pod under namespace defaults is refused',
  );

  // Volumes and annotations in the record are checked as containers are, so a record without
  // containers (volumes and files alone) is judged by what it does record.
  const full = (recorded: { containers?: string[]; volumes?: string[]; annotations?: string[] }) => ({
    'podpattern.dev/status': JSON.stringify({
      templates: [{ name: 'env-only', pattern: 'sidecar', hash: '0123456789abcdef' }],
      containers: recorded.containers ?? [],
      initContainers: [],
      volumes: recorded.volumes ?? [],
      annotations: recorded.annotations ?? [],
      appEnv: ['FOO'],
      appVolumeMounts: ['/shared'],
    }),
  });
  const withVolume = (annotations: Record<string, string>, volumes = ['shared']) => ({
    ...pod(annotations, ['app']),
    spec: { containers: [{ name: 'app', image: 'x' }], volumes: volumes.map((name) => ({ name, emptyDir: {} })) },
  });
  const files = { 'env-only.podpattern.dev/app.conf': 'x' };
  const volumeCases: Array<[string, ReturnType<typeof withVolume>, 'allow' | 'deny']> = [
    [
      'a record of a volume and an annotation alone, both in the pod',
      withVolume({ 'podpattern.dev/sidecar': 'env-only', ...files, ...full({ volumes: ['shared'], annotations: Object.keys(files) }) }),
      'allow',
    ],
    [
      'a record of a volume alone, in the pod',
      withVolume({ 'podpattern.dev/sidecar': 'env-only', ...full({ volumes: ['shared'] }) }),
      'allow',
    ],
    [
      'a record of a volume the pod does not have',
      withVolume({ 'podpattern.dev/sidecar': 'env-only', ...full({ volumes: ['shared', 'absent'] }) }),
      'deny',
    ],
    [
      'a record of a volume, the pod has none',
      { ...pod({ 'podpattern.dev/sidecar': 'env-only', ...full({ volumes: ['shared'] }) }, ['app']) } as ReturnType<typeof withVolume>,
      'deny',
    ],
    [
      'a record of an annotation the pod does not have',
      withVolume({ 'podpattern.dev/sidecar': 'env-only', ...full({ volumes: ['shared'], annotations: Object.keys(files) }) }),
      'deny',
    ],
    [
      'a present container but an absent volume',
      withVolume({ 'podpattern.dev/sidecar': 'env-only', ...full({ containers: ['app'], volumes: ['absent'] }) }),
      'deny',
    ],
    ['a record of nothing at all', withVolume({ 'podpattern.dev/sidecar': 'env-only', ...full({}) }), 'deny'],
    [
      'a record without its volumes list',
      withVolume({
        'podpattern.dev/sidecar': 'env-only',
        'podpattern.dev/status': '{"templates":[],"containers":["app"],"initContainers":[],"annotations":[]}',
      }),
      'deny',
    ],
  ];
  for (const [source, objects] of [
    ['webhook-config', plain],
    ['chart', chartDefault],
  ] as const) {
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'podpattern-required-injection');
    for (const [label, object, expected] of volumeCases) t.equal(decide(policy, object, namespace()), expected, `${source}: ${label}`);
  }
  t.equal(
    decide(find(chartDefaults, 'ValidatingAdmissionPolicy', 'podpattern-required-injection'), pod(status), withDefaults),
    'allow',
    'namespaceDefaults: an injected one passes',
  );
});

t.test("the CRD's CEL rules accept good templates and refuse bad ones", async (t) => {
  const rules = celRules(patternTemplateSchema);
  const nameRule = rules.find((r) => r.includes('metadata.name')) as string;
  const boundsRule = rules.find((r) => r.includes('minimum')) as string;
  t.equal(evaluate(nameRule, { self: { metadata: { name: 'https-proxy' } } }), true);
  t.equal(evaluate(nameRule, { self: { metadata: { name: 'Https_Proxy' } } }), false);
  t.equal(evaluate(nameRule, { self: { metadata: { name: 'a'.repeat(64) } } }), false);
  t.equal(evaluate(boundsRule, { self: { type: 'integer', minimum: 1, maximum: 65535 } }), true);
  t.equal(evaluate(boundsRule, { self: { type: 'integer' } }), true);
  t.equal(evaluate(boundsRule, { self: { type: 'integer', minimum: 10, maximum: 1 } }), false);
});

t.test(
  "the workloads entry sees workloads whose pod template or own metadata carries a podpattern annotation, created or changed, no controller's",
  async (t) => {
    const asks = { 'podpattern.dev/sidecar': 'https-proxx' };
    const deployment = (template?: Record<string, string>, own?: Record<string, string>, extra: Record<string, unknown> = {}) => ({
      metadata: { name: 'web', ...(own ? { annotations: own } : {}), ...extra },
      spec: {
        replicas: 2,
        template: { metadata: { ...(template ? { annotations: template } : {}) }, spec: { containers: [{ name: 'app', image: 'x' }] } },
      },
    });
    const cronJob = (template?: Record<string, string>) => ({
      metadata: { name: 'render' },
      spec: {
        schedule: '@hourly',
        jobTemplate: { spec: { template: { metadata: { ...(template ? { annotations: template } : {}) }, spec: { containers: [] } } } },
      },
    });
    const owned = { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u', controller: true }] };
    const create = { operation: 'CREATE' };
    const update = { operation: 'UPDATE' };
    const cases: Array<[string, Record<string, unknown>, unknown, Record<string, unknown> | null, boolean]> = [
      ['a Deployment asking for a template', create, deployment(asks), null, true],
      ['a Deployment with only a parameter', create, deployment({ 'https-proxy.podpattern.dev/tls-secret': 'x' }), null, true],
      ['a Deployment with the annotation on its own metadata', create, deployment(undefined, asks), null, true],
      ['a Deployment without podpattern annotations', create, deployment({ 'prometheus.io/scrape': 'true' }), null, false],
      ['a look-alike domain', create, deployment({ 'notpodpattern.dev/sidecar': 'x' }), null, false],
      ['a CronJob asking for a template', create, cronJob(asks), null, true],
      ['a CronJob without', create, cronJob(), null, false],
      ['a ReplicaSet its Deployment owns', create, deployment(asks, undefined, owned), null, false],
      ['an update changing the replicas', update, deployment(asks), deployment(asks, undefined, {}), true],
      [
        'an update changing nothing in spec or annotations',
        update,
        deployment(asks, undefined, { resourceVersion: '2' }),
        deployment(asks, undefined, { resourceVersion: '1' }),
        false,
      ],
      ['an update adding an annotation to the workload', update, deployment(asks, { note: 'x' }), deployment(asks), true],
    ];
    (cases[8]![3] as { spec: { replicas: number } }).spec.replicas = 1;
    for (const [source, objects] of [
      ['webhook-config', plain],
      ['chart', chartDefault],
    ] as const) {
      const webhook = find(objects, 'ValidatingWebhookConfiguration', 'podpattern-workloads').webhooks[0];
      for (const [label, request, object, oldObject, expected] of cases) {
        t.equal(matches(webhook.matchConditions, { object, oldObject, request }), expected, `${source}: ${label}`);
      }
    }
  },
);
