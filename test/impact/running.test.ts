// A running pod's injected part against the next pod another version renders: the fields the
// API server defaults compare equal, everything podpattern adds (containers, their list,
// volumes, rendered annotations) is named when it differs.
import t from 'tap';
import { injectedDifferences } from '../../src/impact/running.js';
import type { PodLike } from '../../src/engine/types.js';

function pod(
  options: {
    containers?: Array<Record<string, unknown>>;
    initContainers?: Array<Record<string, unknown>>;
    volumes?: string[];
    files?: Record<string, string>;
  } = {},
): PodLike {
  const containers = options.containers ?? [
    {
      name: 'proxy',
      image: 'proxy:1',
      ports: [{ containerPort: 8443 }],
      readinessProbe: { httpGet: { path: '/ready', port: 8443 } },
      env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    },
  ];
  const initContainers = options.initContainers ?? [];
  const files = options.files ?? {};
  const status = {
    templates: [{ name: 'proxy', hash: 'h' }],
    containers: containers.map((c) => c.name),
    initContainers: initContainers.map((c) => c.name),
    volumes: options.volumes ?? [],
    annotations: Object.keys(files),
    appEnv: [],
    appVolumeMounts: [],
    sidecars: [],
    grants: [],
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations: { 'podpattern.dev/status': JSON.stringify(status), ...files } },
    spec: {
      containers: [{ name: 'app', image: 'app:1' }, ...containers],
      initContainers,
      volumes: (options.volumes ?? []).map((name) => ({ name, emptyDir: {} })),
    },
  } as unknown as PodLike;
}

t.test("the API server's defaults and its token mount are not differences", async (t) => {
  const stored = pod({
    containers: [
      {
        name: 'proxy',
        image: 'proxy:1',
        ports: [{ containerPort: 8443, protocol: 'TCP' }],
        readinessProbe: {
          httpGet: { path: '/ready', port: 8443, scheme: 'HTTP' },
          timeoutSeconds: 1,
          periodSeconds: 10,
          successThreshold: 1,
          failureThreshold: 3,
        },
        env: [{ name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
        volumeMounts: [{ name: 'kube-api-access-1', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        imagePullPolicy: 'IfNotPresent',
      },
    ],
  });
  t.same(injectedDifferences(stored, pod()), []);
});

t.test('each difference in what podpattern adds is named', async (t) => {
  t.same(injectedDifferences(pod(), pod({ containers: [{ name: 'proxy', image: 'proxy:2', args: ['-v'] }] })), [
    'containers[proxy].image',
    'containers[proxy].args',
    'containers[proxy].env',
    'containers[proxy].ports',
    'containers[proxy].readinessProbe',
  ]);
  t.same(
    injectedDifferences(
      pod(),
      pod({ containers: [], initContainers: [{ name: 'proxy', image: 'proxy:1', restartPolicy: 'Always' }] }),
    )!.slice(0, 2),
    ['initContainers[proxy] (was in containers)', 'initContainers[proxy].env'],
  );
  t.same(injectedDifferences(pod(), pod({ containers: [{ name: 'proxy' }, { name: 'agent', image: 'agent:1' }] }))!.slice(-1), [
    'containers[agent] added',
  ]);
  t.same(injectedDifferences(pod({ containers: [{ name: 'proxy' }, { name: 'agent' }] }), pod({ containers: [{ name: 'proxy' }] })), [
    'containers[agent] removed',
  ]);
  t.same(injectedDifferences(pod({ containers: [], volumes: ['old'] }), pod({ containers: [], volumes: ['new'] })), [
    'volumes[old] removed',
    'volumes[new] added',
  ]);
  t.same(
    injectedDifferences(
      pod({ containers: [], files: { 'proxy.podpattern.dev/conf': 'a' } }),
      pod({ containers: [], files: { 'proxy.podpattern.dev/conf': 'b' } }),
    ),
    ['metadata.annotations[proxy.podpattern.dev/conf]'],
  );
  const many = Array.from({ length: 12 }, (_, i) => ({ name: `c${i}`, image: 'x' }));
  t.same(injectedDifferences(pod({ containers: [] }), pod({ containers: many }))!.slice(-1), ['4 more'], 'a long list is cut');
});

t.test('a pod without a readable status cannot be compared', async (t) => {
  const unreadable = { ...pod(), metadata: { name: 'p', annotations: { 'podpattern.dev/status': '{' } } } as PodLike;
  t.equal(injectedDifferences(unreadable, pod()), undefined);
  t.equal(injectedDifferences({ ...pod(), metadata: { name: 'p' } }, pod()), undefined);
});
