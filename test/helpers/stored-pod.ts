// A pod as the API server stores it after a webhook's patch and reinvokes the webhook with: its
// Go types omit empty strings, empty lists and a plain `readOnly: false` (`omitempty`), and the
// ServiceAccount admission plugin mounts its token volume into every container, ours included.
// Reviewing such a pod again must answer "already injected".
import type { PodLike } from '../../src/engine/index.js';

const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

function omitEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(omitEmpty);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, v]) =>
      v === '' || (key === 'readOnly' && v === false) || (Array.isArray(v) && v.length === 0) ? [] : [[key, omitEmpty(v)]],
    ),
  );
}

type Container = { volumeMounts?: Array<{ name: string; mountPath: string }> };

export function storedByApiServer<T extends PodLike>(pod: T): T {
  const stored = structuredClone(pod);
  const spec = omitEmpty(stored.spec) as
    { containers?: Container[]; initContainers?: Container[]; volumes?: Array<{ name: string }> } | undefined;
  if (spec === undefined) return stored;
  const volume = 'kube-api-access-x1y2z';
  if (!(spec.volumes ?? []).some((v) => v.name === volume))
    spec.volumes = [...(spec.volumes ?? []), { name: volume, projected: { sources: [] } } as { name: string }];
  for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    if ((container.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_PATH)) continue;
    container.volumeMounts = [
      ...(container.volumeMounts ?? []),
      { name: volume, mountPath: TOKEN_PATH, readOnly: true } as { name: string; mountPath: string },
    ];
  }
  (stored as { spec?: unknown }).spec = spec;
  return stored;
}
