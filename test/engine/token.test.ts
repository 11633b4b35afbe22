// The ServiceAccount token mount given to injected containers (src/engine/token.ts): the pod a
// webhook sees has been through the API server's ServiceAccount plugin once; what podpattern
// adds must already carry what the plugin would add on the reinvocation that follows a change,
// so that the plugin changes nothing and podpattern is not called a second time.
import t from 'tap';
import { applyPatch, inject, type PodLike } from '../../src/engine/index.js';
import { buildCatalog, loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';
import { TOKEN_MOUNT_PATH } from '../../src/engine/token.js';
import { storedByApiServer } from '../helpers/stored-pod.js';

type Mount = { name: string; mountPath: string; readOnly?: boolean };
type Container = { name: string; volumeMounts?: Mount[] };
type Pod = PodLike & {
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: Array<{ name: string }>;
    automountServiceAccountToken?: boolean;
  };
};

const masking = parseTemplates(
  `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: no-token }
spec:
  pattern: adapter
  description: Masks the token with an empty directory.
  containers:
    - name: no-token
      image: registry.example/no-token:1
      volumeMounts: [{ name: no-token-mask, mountPath: ${TOKEN_MOUNT_PATH} }]
  volumes: [{ name: no-token-mask, emptyDir: {} }]
`,
  'builtin',
);
const catalog = buildCatalog([loadBuiltinTemplates(), masking]);
const options = { nativeSidecars: 'always', namespace: 'shop' } as const;
const asks = {
  'podpattern.dev/sidecar': 'https-proxy',
  'https-proxy.podpattern.dev/tls-secret': 'web-tls',
  'podpattern.dev/adapter': 'redis-exporter',
};

function bare(annotations: Record<string, string> = asks): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', annotations },
    spec: { containers: [{ name: 'web', image: 'example.org/web:1' }] },
  };
}

/** The pod and what the engine made of it, the patch applied. */
function injected(pod: Pod): Pod {
  const result = inject(pod, catalog, options);
  if (result.outcome !== 'injected') throw new Error(`not injected: ${result.outcome}`);
  return applyPatch<Pod>(pod, result.patch);
}

function containersOf(pod: Pod): Container[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

function tokenMounts(container: Container): Mount[] {
  return (container.volumeMounts ?? []).filter((m) => m.mountPath === TOKEN_MOUNT_PATH);
}

t.test('a pod the plugin has mounted: every injected container gets the same mount, last, as the plugin appends it', async (t) => {
  const admitted = storedByApiServer(bare());
  const volume = admitted.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'))?.name;
  const pod = injected(admitted);
  const ours = containersOf(pod).filter((c) => c.name !== 'web');
  t.same(ours.map((c) => c.name).sort(), ['https-proxy', 'redis-exporter']);
  for (const container of ours) {
    t.same(tokenMounts(container), [{ name: volume, readOnly: true, mountPath: TOKEN_MOUNT_PATH }], `${container.name}: one token mount`);
    t.equal(container.volumeMounts?.at(-1)?.mountPath, TOKEN_MOUNT_PATH, `${container.name}: after the template's own`);
  }
  const again = storedByApiServer(pod);
  t.same(
    containersOf(again).map((c) => c.volumeMounts?.length),
    containersOf(pod).map((c) => c.volumeMounts?.length),
    'the plugin, run again, adds no mount',
  );
  t.equal(again.spec.volumes?.length, pod.spec.volumes?.length, 'nor a volume');
  t.match(inject(pod, catalog, options), { outcome: 'skipped', reason: 'already-injected' }, 'a reinvocation finds it injected');
});

t.test('no token volume (the CLI, a pod the plugin did not mount): nothing is added', async (t) => {
  for (const container of containersOf(injected(bare()))) t.same(tokenMounts(container), [], container.name);
});

t.test('automountServiceAccountToken: false on the pod: the plugin mounts nothing, nor does podpattern', async (t) => {
  const pod = storedByApiServer(bare());
  pod.spec.automountServiceAccountToken = false;
  for (const container of containersOf(injected(pod)).filter((c) => c.name !== 'web')) t.same(tokenMounts(container), [], container.name);
});

t.test(
  "a token volume none of the pod's containers mounts (the ServiceAccount may say no): nothing added unless the pod asks",
  async (t) => {
    const pod = storedByApiServer(bare());
    pod.spec.containers[0]!.volumeMounts = [];
    for (const container of containersOf(injected(pod)).filter((c) => c.name !== 'web'))
      t.same(tokenMounts(container), [], `${container.name}: not mounted`);
    pod.spec.automountServiceAccountToken = true;
    for (const container of containersOf(injected(pod)).filter((c) => c.name !== 'web'))
      t.equal(tokenMounts(container).length, 1, `${container.name}: mounted when the pod asks for the token`);
  },
);

t.test('a template that mounts something else at the token path keeps it, as the plugin would', async (t) => {
  const pod = injected(storedByApiServer(bare({ 'podpattern.dev/adapter': 'no-token' })));
  const mask = containersOf(pod).find((c) => c.name === 'no-token');
  t.same(mask && tokenMounts(mask), [{ name: 'no-token-mask', mountPath: TOKEN_MOUNT_PATH }]);
});

t.test("the pod's own containers are left as they are", async (t) => {
  const admitted = storedByApiServer(bare());
  admitted.spec.containers[0]!.volumeMounts = [];
  admitted.spec.automountServiceAccountToken = true;
  const pod = injected(admitted);
  t.same(pod.spec.containers.find((c) => c.name === 'web')?.volumeMounts, [], 'the app gets nothing from podpattern');
});
