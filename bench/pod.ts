// The pods the benchmarks send: what a Deployment's ReplicaSet controller really creates, as the
// mutating webhook sees it. Mutating webhooks run after the API server's built-in admission
// plugins (https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/), so
// the ServiceAccount plugin has already added the projected `kube-api-access-*` volume and its
// mount, and defaulting has filled in dnsPolicy, terminationMessagePath and the like. The pod
// has only a generateName (it is named after admission), an ownerReference to its ReplicaSet,
// the pod-template-hash label and kube-controller-manager's managedFields entry.
import type { PodLike } from '../src/engine/index.js';

/** Replaced by a counter to make every pod distinct (a different Deployment's pod each time); valid in names as it is. */
export const SEQ_TOKEN = 'zq0q';

/**
 * A Deployment `web<seq>`'s pod asking for https-proxy + redis-exporter; `padBytes` pads the
 * app's env with values until the pod's JSON is that long.
 */
// eslint-disable-next-line max-lines-per-function -- one pod manifest as the API server sends it; split, it would no longer read as one
export function realisticPod(seq: string, padBytes = 0): PodLike {
  const hash = `7d9f8${seq}`;
  const name = `web${seq}`;
  const pod: PodLike = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${name}-${hash}-`,
      namespace: 'shop',
      labels: { app: name, 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'shop', 'pod-template-hash': hash },
      annotations: {
        'podpattern.dev/sidecar': 'https-proxy',
        'https-proxy.podpattern.dev/tls-secret': `${name}-tls`,
        'https-proxy.podpattern.dev/upstream-port': '8080',
        'podpattern.dev/adapter': 'redis-exporter',
        'prometheus.io/scrape': 'true',
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${name}-${hash}`,
          uid: `5e0f7a42-1c3b-4d8e-9f60-${seq.padStart(12, '0')}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-11-30T14:02:11Z',
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': {
              'f:annotations': {
                '.': {},
                'f:podpattern.dev/adapter': {},
                'f:podpattern.dev/sidecar': {},
                'f:https-proxy.podpattern.dev/tls-secret': {},
                'f:https-proxy.podpattern.dev/upstream-port': {},
                'f:prometheus.io/scrape': {},
              },
              'f:generateName': {},
              'f:labels': {
                '.': {},
                'f:app': {},
                'f:app.kubernetes.io/name': {},
                'f:app.kubernetes.io/part-of': {},
                'f:pod-template-hash': {},
              },
              'f:ownerReferences': { '.': {}, [`k:{"uid":"5e0f7a42-1c3b-4d8e-9f60-${seq.padStart(12, '0')}"}`]: {} },
            },
            'f:spec': {
              'f:containers': {
                'k:{"name":"app"}': {
                  '.': {},
                  'f:env': {
                    '.': {},
                    'k:{"name":"REDIS_ADDR"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    'k:{"name":"POD_IP"}': { '.': {}, 'f:name': {}, 'f:valueFrom': { '.': {}, 'f:fieldRef': {} } },
                  },
                  'f:image': {},
                  'f:imagePullPolicy': {},
                  'f:livenessProbe': { '.': {}, 'f:httpGet': { '.': {}, 'f:path': {}, 'f:port': {}, 'f:scheme': {} } },
                  'f:name': {},
                  'f:ports': {
                    '.': {},
                    'k:{"containerPort":8080,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {}, 'f:protocol': {} },
                  },
                  'f:readinessProbe': { '.': {}, 'f:httpGet': { '.': {}, 'f:path': {}, 'f:port': {}, 'f:scheme': {} } },
                  'f:resources': {
                    '.': {},
                    'f:limits': { '.': {}, 'f:memory': {} },
                    'f:requests': { '.': {}, 'f:cpu': {}, 'f:memory': {} },
                  },
                  'f:terminationMessagePath': {},
                  'f:terminationMessagePolicy': {},
                  'f:volumeMounts': { '.': {}, 'k:{"mountPath":"/var/cache/web"}': { '.': {}, 'f:mountPath': {}, 'f:name': {} } },
                },
              },
              'f:dnsPolicy': {},
              'f:enableServiceLinks': {},
              'f:restartPolicy': {},
              'f:schedulerName': {},
              'f:securityContext': {},
              'f:terminationGracePeriodSeconds': {},
              'f:volumes': { '.': {}, 'k:{"name":"cache"}': { '.': {}, 'f:emptyDir': {}, 'f:name': {} } },
            },
          },
        },
      ],
    },
    spec: {
      volumes: [
        { name: 'cache', emptyDir: {} },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
      containers: [
        {
          name: 'app',
          image: `registry.example.org/shop/${name}:1.14.2`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          env: [
            { name: 'REDIS_ADDR', value: 'redis.shop.svc.cluster.local:6379' },
            { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
          ],
          resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
          volumeMounts: [
            { name: 'cache', mountPath: '/var/cache/web' },
            { name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
          livenessProbe: {
            httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          readinessProbe: {
            httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
  } as unknown as PodLike;
  const env = pod.spec!.containers[0]!.env!;
  // Values grow with the size asked for: the engine reads pods of at most 512 env vars a container.
  const value = 'x'.repeat(Math.max(200, Math.ceil(padBytes / 256)));
  for (let i = 0; padBytes > 0 && JSON.stringify(pod).length < padBytes; i++) env.push({ name: `PAD_${i}`, value });
  return pod;
}

/**
 * A bare pod `web` in namespace shop asking for the https-proxy built-in, which podpattern
 * injects: what the tests and benchmarks that run podpattern whole (a process, its image) send.
 */
export function httpsProxyPod(): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web',
      namespace: 'shop',
      annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' },
    },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
  };
}

/** The AdmissionReview the API server sends for a pod; `uid` is request.uid. */
export function reviewOf(pod: PodLike, uid: string): string {
  return JSON.stringify({
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: pod.metadata?.namespace,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '0b6c1f7e-59a2-4c1d-8e3a-2f4d5c6b7a80',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
}
