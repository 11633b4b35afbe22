// AdmissionReviews an attacker (or a broken controller) could send, each close to the API
// server's 3 MiB object limit, and the engine's own hostile inputs: the inputs of the bounds
// benchmark (bench/bounds.ts), of the bound tests and of the memory test's hostile mix.
const MiB = 1024 * 1024;

interface PodShape {
  annotations: Record<string, string>;
  containers?: unknown[];
  extra?: Record<string, unknown>;
}

/** Characters of padding in the app container's env, so a review reaches its size with annotations Kubernetes would accept. */
let padding = 0;

export function review(uid: string, pod: PodShape): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'mallory' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'web-', annotations: pod.annotations, ...pod.extra },
        spec: {
          containers: pod.containers ?? [{ name: 'app', image: 'example.org/app:1', env: [{ name: 'PAD', value: 'p'.repeat(padding) }] }],
        },
      },
    },
  });
}

/** Names `sep`-joined until the text is `bytes` long. */
function repeatTo(bytes: number, item: (i: number) => string, sep = ','): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i += 1) {
    const next = item(i);
    parts.push(next);
    length += next.length + sep.length;
  }
  return parts.join(sep);
}

export interface HostileCase {
  name: string;
  body: (uid: string) => string;
}

/**
 * One body of each kind, about `bytes` long. Annotations stay within Kubernetes' 256 KiB for
 * the kinds that test the engine's own limits (past it, a pod is refused before any of them
 * apply); the app container's env makes up the rest. The last kinds go past 256 KiB on purpose.
 */
export function hostileCases(total = 3 * MiB): HostileCase[] {
  const bytes = 250 * 1024;
  padding = total - bytes - 4096;
  const manyNames = repeatTo(bytes, (i) => `t${i}`);
  const controlNames = repeatTo(bytes / 2, (i) => `\u001b[31mx${i}\u202e`); // each \u001b is 6 characters of JSON
  const fewKeys = Object.fromEntries(
    Array.from({ length: 9_000 }, (_, i) => [`podpattern.dev/k${i}-${'x'.repeat(Math.floor(bytes / 9_000) - 24)}`, '']),
  );
  const manyKeys = Object.fromEntries(Array.from({ length: Math.floor(total / 48) }, (_, i) => [`podpattern.dev/k${i}`, '']));
  const strayParameters = Object.fromEntries(
    Array.from({ length: 2_000 }, (_, i) => [`other.podpattern.dev/p${i}`, 'v'.repeat(Math.floor(bytes / 2_000) - 30)]),
  );
  const unknownParameters = Object.fromEntries(
    Array.from({ length: 2_000 }, (_, i) => [`demo-sidecar.podpattern.dev/p${i}\u0007`, 'v'.repeat(Math.floor(bytes / 2_000) - 40)]),
  );
  const bigValue = 'a'.repeat(bytes);
  const hugeValue = 'a'.repeat(total - 4096);
  const containers = Array.from({ length: 4_000 }, (_, i) => ({ name: `c${i}`, image: 'x'.repeat(Math.floor(total / 4_000) - 30) }));
  const sidecar = { 'podpattern.dev/sidecar': 'demo-sidecar' };
  return [
    { name: 'thousands of template names', body: (uid) => review(uid, { annotations: { 'podpattern.dev/sidecar': manyNames } }) },
    {
      name: 'template names with control characters',
      body: (uid) => review(uid, { annotations: { 'podpattern.dev/sidecar': controlNames } }),
    },
    { name: '9,000 long unknown podpattern.dev keys', body: (uid) => review(uid, { annotations: { ...sidecar, ...fewKeys } }) },
    {
      name: 'over 100,000 short unknown podpattern.dev keys',
      body: (uid) => review(uid, { annotations: { ...sidecar, ...manyKeys }, containers: [{ name: 'app', image: 'x' }] }),
    },
    { name: 'parameters of templates not asked for', body: (uid) => review(uid, { annotations: { ...sidecar, ...strayParameters } }) },
    {
      name: 'unknown parameters of a template asked for',
      body: (uid) => review(uid, { annotations: { ...sidecar, ...unknownParameters } }),
    },
    {
      name: 'a 250 KiB parameter value',
      body: (uid) => review(uid, { annotations: { ...sidecar, 'demo-sidecar.podpattern.dev/label': bigValue } }),
    },
    { name: 'a 250 KiB inject annotation', body: (uid) => review(uid, { annotations: { ...sidecar, 'podpattern.dev/inject': bigValue } }) },
    { name: 'a 250 KiB pod name', body: (uid) => review(uid, { annotations: sidecar, extra: { name: bigValue } }) },
    {
      name: 'a 3 MiB parameter value',
      body: (uid) =>
        review(uid, {
          annotations: { ...sidecar, 'demo-sidecar.podpattern.dev/label': hugeValue },
          containers: [{ name: 'app', image: 'x' }],
        }),
    },
    {
      name: 'a 3 MiB pod name',
      body: (uid) => review(uid, { annotations: sidecar, extra: { name: hugeValue }, containers: [{ name: 'app', image: 'x' }] }),
    },
    { name: '4,000 containers', body: (uid) => review(uid, { annotations: sidecar, containers }) },
    {
      name: '200 containers with 3 MiB of env',
      body: (uid) => review(uid, { annotations: sidecar, containers: containersWithEnv(200, Math.floor((total - 8192) / 200)) }),
    },
    {
      name: 'a forged status naming 20,000 containers',
      body: (uid) => review(uid, { annotations: { ...sidecar, 'podpattern.dev/status': forgedStatus(20_000) } }),
    },
    {
      name: 'a backtracking-prone value',
      body: (uid) => review(uid, { annotations: { ...sidecar, 'demo-sidecar.podpattern.dev/greeting': `${'a'.repeat(5_000)}!` } }),
    },
    { name: 'an ordinary injection padded to 3 MiB', body: (uid) => review(uid, { annotations: sidecar }) },
  ];
}

/** A podpattern.dev/status claiming `count` injected containers. */
function forgedStatus(count: number): string {
  return JSON.stringify({
    templates: [{ name: 'demo-sidecar', pattern: 'sidecar', hash: '0000000000000000' }],
    containers: Array.from({ length: count }, (_, i) => `c${i}`),
    initContainers: [],
    volumes: [],
    annotations: [],
    appEnv: [],
    appVolumeMounts: [],
  });
}

/** `count` containers, each with one environment variable of `bytes` characters. */
function containersWithEnv(count: number, bytes: number): Array<Record<string, unknown>> {
  return Array.from({ length: count }, (_, i) => ({ name: `c${i}`, image: 'x', env: [{ name: 'E', value: 'e'.repeat(bytes) }] }));
}

/** A nested quantifier that backtracks exponentially in V8's RegExp on a near-miss value, and is linear in RE2. */
export const NESTED_QUANTIFIER = '^([a-z0-9]+-?)*[a-z0-9]$';

/** A cluster template whose one parameter, `host`, must match `pattern`. */
export function patternTemplateYaml(name: string, pattern: string): string {
  return `apiVersion: podpattern.dev/v1alpha1
kind: PatternTemplate
metadata: { name: ${name} }
spec:
  pattern: sidecar
  description: d
  parameters:
    host: { type: string, maxLength: 5000, pattern: '${pattern}' }
  containers: [{ name: ${name}, image: 'example.org/x:1', args: ['$(params.host)'] }]
`;
}

/** Template names, comma-joined, as many as `count`: the amplification input of the engine. */
export function manyTemplateNames(count: number): string {
  return Array.from({ length: count }, (_, i) => `t${i}`).join(',');
}
