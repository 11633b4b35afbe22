// The hostile-review suite: 10,000 generated AdmissionReviews (seeded, so a failure replays
// exactly) decided as the webhook decides them (admission/decide with the real engine and the
// test catalog), each answer held to four oracles:
//   1. the patch applies to the pod it came with;
//   2. no container, volume or env var of the pod is changed, except by the declared app wiring
//      of the templates injected, or removed, except what those templates would add themselves;
//   3. every object added is what a template declares: its image, securityContext and volumes
//      never come from a parameter, and the pod's service account, host namespaces and
//      pod-level securityContext are never touched;
//   4. reviewing the result again changes nothing.
// Denials are checked too: bounded, no raw control characters, never an internal error.
// PODPATTERN_HOSTILE_RUNS changes the number of reviews; PODPATTERN_HOSTILE_DEBUG=1 puts the pod
// before and after into an oracle-4 failure.
// The pods mix what attackers and busy clusters send: forged and stale status records, other
// webhooks' sidecars, names that clash, parameters named after Object.prototype properties,
// templates listed under the wrong pattern, control characters and oversized values.
import t from 'tap';
import fc from 'fast-check';
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { V1Container } from '#kube';
import { decide } from '../../src/admission/review.js';
import { inject, type PodLike } from '../../src/engine/index.js';
import type { AdmissionRequest } from '../../src/admission/types.js';
import type { Template } from '../../src/model/template.js';
import { testCatalog } from '../helpers/catalog.js';
import { storedByApiServer } from '../helpers/stored-pod.js';

const SEED = 20_261_130;
const RUNS = Number(process.env['PODPATTERN_HOSTILE_RUNS'] ?? 10_000);
const catalog = testCatalog();
const templates = catalog.list();
const names = templates.map((x) => x.name);
const deps = {
  inject,
  catalog: () => catalog,
  nativeSidecars: 'auto' as const,
  failureMode: 'closed' as const,
  serverVersion: () => ({ major: 1, minor: 30 }),
};

// ---------- generators ----------
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('\u001b[31m', '\u202e', '\u0000', '\n', '$(params.port)', '$(SECRET)', '"}', "'", '🐙', 'x'.repeat(300), 'a,b,,c', ' '),
  fc.array(fc.constantFrom('a', '-', '.', '\u0007', '9', '/'), { maxLength: 20 }).map((parts) => parts.join('')),
);
const templateName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...names) },
  { weight: 1, arbitrary: fc.constantFrom('nope', 'Demo', 'constructor', '__proto__') },
  { weight: 1, arbitrary: hostileText },
);
const parameterName = fc.oneof(
  fc.constantFrom('port', 'greeting', 'label', 'verbose', 'service', 'metrics-port', 'tls-secret', 'upstream-port', 'repo', 'shards'),
  fc.constantFrom('constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'),
  hostileText,
);
const parameterValue = fc.oneof(
  fc.constantFrom('8080', '9000', '1024', 'hello', 'true', 'false', 'web', 'api', '-1', '70000', '1e3'),
  hostileText,
);
const containerName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('app', 'web', 'istio-proxy', 'security-agent') },
  { weight: 1, arbitrary: fc.constantFrom('demo-sidecar', 'demo-adapter', 'https-proxy', 'git-sync') },
);
/** Values that fit the required parameters, so that most generated pods can be injected. */
const REQUIRED: Record<string, Record<string, string>> = {
  'demo-ambassador': { service: 'api' },
  'git-sync': { repo: 'https://git.example.org/site' },
  'https-proxy': { 'tls-secret': 'web-tls' },
  'redis-shard': { shards: 'redis-0:6379,redis-1:6379' },
  'request-splitter': { production: 'web', experiment: 'web-next' },
  'service-broker': { service: 'mysql', namespace: 'db' },
};
const ofPattern = (pattern: string) => names.filter((name) => catalog.get(name)!.spec.pattern === pattern);
const listed = (pattern: string) =>
  fc.array(
    fc.oneof(
      { weight: 24, arbitrary: fc.constantFrom(...ofPattern(pattern).filter((name) => name !== 'demo-clash')) },
      { weight: 1, arbitrary: templateName },
    ),
    { maxLength: 1 },
  );

const container = fc.record(
  {
    name: containerName,
    image: fc.constantFrom('example.org/app:1', 'istio/proxyv2:1.22', 'example.org/demo-sidecar:1.0.0'),
    env: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom('A', 'B', 'C', 'A', 'B', 'DEMO_URL', 'REDIS_HOST'),
        value: fc.constantFrom('1', 'http://elsewhere', 'x'),
      }),
      { minLength: 1, maxLength: 3, selector: (e) => e.name },
    ),
    ports: fc.uniqueArray(fc.record({ containerPort: fc.constantFrom(80, 8080, 3000, 5000, 9000) }), {
      minLength: 1,
      maxLength: 2,
      selector: (p) => p.containerPort,
    }),
    volumeMounts: fc.uniqueArray(fc.record({ name: fc.constant('data'), mountPath: fc.constantFrom('/data', '/var/data', '/shared') }), {
      minLength: 1,
      maxLength: 2,
      selector: (m) => m.mountPath,
    }),
  },
  { requiredKeys: ['name', 'image'] },
);

const volume = fc.oneof(
  fc.record({ name: fc.constantFrom('cache', 'demo-shared', 'demo-sidecar-files'), emptyDir: fc.constant({}) }),
  fc.record({ name: fc.constantFrom('host', 'demo-shared'), hostPath: fc.record({ path: fc.constantFrom('/', '/var/run') }) }),
);

interface Generated {
  pod: PodLike;
  status: 'none' | 'genuine' | 'forged' | 'stale' | 'garbage';
}

const generated: fc.Arbitrary<Generated> = fc
  .record({
    containers: fc.uniqueArray(container, { minLength: 1, maxLength: 3, selector: (c) => c.name }),
    initContainers: fc.option(
      fc.uniqueArray(
        container.map((c) => ({ ...c, name: `init-${c.name}` })),
        { maxLength: 2, selector: (c) => c.name },
      ),
      { nil: undefined },
    ),
    // Every pod has the volume `data` its containers mount; `volume` never generates that name.
    volumes: fc.uniqueArray(volume, { maxLength: 2, selector: (v) => v.name }).map((list) => [{ name: 'data', emptyDir: {} }, ...list]),
    lists: fc.record({ sidecar: listed('sidecar'), ambassador: listed('ambassador'), adapter: listed('adapter') }),
    omitRequired: fc.nat({ max: 19 }).map((n) => n === 0),
    parameters: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as [string, string, string][]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(templateName, parameterName, parameterValue), { maxLength: 4 }) },
    ),
    extra: fc.oneof(
      { weight: 4, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.dictionary(
          fc.oneof(
            fc.constantFrom('podpattern.dev/inject', 'podpattern.dev/sidcar', 'prometheus.io/port', 'podpattern.dev/\u001b'),
            hostileText,
          ),
          fc.oneof(fc.constantFrom('true', 'false', ''), hostileText),
          { maxKeys: 2 },
        ),
      },
    ),
    status: fc.constantFrom<Generated['status']>('none', 'none', 'genuine', 'forged', 'stale', 'garbage'),
    forgedNames: fc.array(containerName, { maxLength: 3 }),
    podLevel: fc.record(
      { serviceAccountName: fc.constantFrom('default', 'builder'), hostNetwork: fc.constantFrom(false, false, false, false, true) },
      { requiredKeys: [] },
    ),
  })
  .map(({ containers, initContainers, volumes, lists, omitRequired, parameters, extra, status, forgedNames, podLevel }) => {
    const annotations: Record<string, string> = { ...extra };
    for (const [pattern, listed] of Object.entries(lists))
      if (listed.length > 0) annotations[`podpattern.dev/${pattern}`] = listed.join(', ');
    if (!omitRequired) {
      for (const name of Object.values(lists).flat())
        for (const [parameter, value] of Object.entries(REQUIRED[name] ?? {})) annotations[`${name}.podpattern.dev/${parameter}`] = value;
    }
    for (const [template, parameter, value] of parameters) annotations[`${template}.podpattern.dev/${parameter}`] = value;
    const pod: PodLike = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-', annotations },
      spec: {
        ...podLevel,
        containers: structuredClone(containers),
        ...(initContainers?.length ? { initContainers: structuredClone(initContainers) } : {}),
        ...(volumes?.length ? { volumes: structuredClone(volumes) } : {}),
      },
    };
    if (status === 'genuine') {
      // An injection that really happened, then the pod sent again (a reinvocation, or a copy).
      const first = inject(pod, catalog, { nativeSidecars: 'always', namespace: 'shop' });
      if (first.outcome === 'injected') return { pod: first.pod, status };
    }
    const requested = Object.entries(lists).flatMap(([pattern, listed]) => listed.map((name) => ({ name, pattern })));
    const template = (name: string) => templates.find((x) => x.name === name);
    if (status === 'forged' || status === 'stale') {
      annotations['podpattern.dev/status'] = JSON.stringify({
        templates: requested.map(({ name, pattern }) => ({
          name,
          pattern,
          hash: status === 'forged' ? (template(name)?.hash ?? 'x') : '0000000000000000',
        })),
        containers: forgedNames,
        initContainers: forgedNames.slice(0, 1),
        volumes: ['data', 'demo-shared'],
        annotations: ['prometheus.io/port'],
        appEnv: ['A', 'DEMO_URL'],
        appVolumeMounts: ['/data'],
      });
    }
    if (status === 'garbage') annotations['podpattern.dev/status'] = '{"templates":"no"';
    return { pod, status };
  });

// ---------- oracles ----------
function request(uid: string, pod: PodLike): AdmissionRequest {
  return { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', operation: 'CREATE', object: pod };
}

function patchOf(response: { patch?: string }): Operation[] {
  return response.patch === undefined ? [] : (JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[]);
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};
// A template that runs on Windows gets only what Pod Security "restricted" asks of a Windows pod.
const RESTRICTED_WINDOWS = { runAsNonRoot: true };
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Names and paths a set of templates may add to, or take from, a pod. */
function declared(injected: Template[]) {
  const all = injected.flatMap((x) => [...x.spec.containers, ...x.spec.initContainers]);
  return {
    containers: new Map(all.map((c) => [c.name, c])),
    /** The securityContext defaults of each container, by the OS its template runs on. */
    defaults: new Map(
      injected.flatMap((x) =>
        [...x.spec.containers, ...x.spec.initContainers].map(
          (c) => [c.name, x.spec.os?.includes('windows') === true ? RESTRICTED_WINDOWS : RESTRICTED] as const,
        ),
      ),
    ),
    volumes: new Set(injected.flatMap((x) => [...x.spec.volumes.map((v) => v.name), `${x.name}-files`])),
    env: new Set(injected.flatMap((x) => (x.spec.app.env ?? []).map((e) => e.name))),
    mounts: new PathSet(injected.flatMap((x) => (x.spec.app.volumeMounts ?? []).map((m) => m.mountPath))),
  };
}

/** Mount paths as declared: a placeholder in one stands for any text. */
class PathSet {
  private readonly patterns: RegExp[];
  constructor(paths: string[]) {
    this.patterns = paths.map(
      (path) =>
        new RegExp(
          `^${path
            .split(/\$\([^)]*\)/)
            .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ),
    );
  }
  has(path: string): boolean {
    return this.patterns.some((re) => re.test(path));
  }
}

function readRecord(text: string | undefined): { containers?: unknown; initContainers?: unknown } {
  try {
    return (JSON.parse(text ?? '{}') as object | null) ?? {};
  } catch {
    return {};
  }
}

type Declared = ReturnType<typeof declared>;
type PodSpec = NonNullable<PodLike['spec']>;

/** What the oracles compare an answer against. */
interface Oracles {
  /** What the templates injected into this pod declare. */
  allowed: Declared;
  /** What any template could have added earlier. */
  everyTemplate: Declared;
  /** The containers the pod's status annotation says podpattern added. */
  recorded: Set<unknown>;
  injected: Template[];
}

/** Why an injected answer breaks an oracle, or undefined. */
function violation(pod: PodLike, after: PodLike, injected: Template[]): string | undefined {
  const record = readRecord(pod.metadata?.annotations?.['podpattern.dev/status']);
  const recordedNames = [record.containers, record.initContainers].flatMap((list) => (Array.isArray(list) ? list : []));
  const oracles: Oracles = { allowed: declared(injected), everyTemplate: declared(templates), recorded: new Set(recordedNames), injected };
  const before = pod.spec!;
  const now = after.spec!;
  const replaced: V1Container[] = [];
  return (
    ownContainersViolation(before, now, oracles, replaced) ??
    ownVolumesViolation(before, now, oracles.everyTemplate) ??
    addedContainersViolation(before, now, replaced, oracles.allowed) ??
    addedVolumesViolation(before, now, oracles) ??
    podFieldsViolation(before, now)
  );
}

const allContainers = (spec: PodSpec) => [...spec.containers, ...(spec.initContainers ?? [])];

/**
 * Oracle 2 on the pod's own containers: each is kept with only template wiring added to its env
 * and mounts, or replaced by a template's container of that name. Replacements go to `replaced`.
 */
function ownContainersViolation(before: PodSpec, now: PodSpec, oracles: Oracles, replaced: V1Container[]): string | undefined {
  const nowContainers = new Map(allContainers(now).map((c) => [c.name, c]));
  for (const original of allContainers(before)) {
    const kept = nowContainers.get(original.name);
    const { env: _envBefore, volumeMounts: _mountsBefore, ...restBefore } = original;
    const { env: _envNow, volumeMounts: _mountsNow, ...restNow } = kept ?? {};
    const found =
      kept === undefined || !same(restBefore, restNow) ? replacementViolation(original, oracles) : wiringViolation(original, kept, oracles);
    if (found !== undefined) return found;
    if (kept !== undefined && !same(restBefore, restNow)) replaced.push(kept);
  }
  return undefined;
}

/**
 * A container removed or replaced: only what a template itself adds, by name and image (a copy
 * of a template's container), or what a template the status records and the pod asks for again
 * declares by that name.
 */
function replacementViolation(original: V1Container, { allowed, everyTemplate, recorded }: Oracles): string | undefined {
  const fromTemplate = everyTemplate.containers.get(original.name);
  const copy = fromTemplate !== undefined && original.image === fromTemplate.image;
  const redeclared = recorded.has(original.name) && allowed.containers.has(original.name);
  return copy || redeclared
    ? undefined
    : `oracle 2: the pod's container '${original.name}' (${original.image}) was removed or changed outside env and mounts`;
}

/** A kept container's env and mounts change only where a template wires them. */
function wiringViolation(original: V1Container, kept: V1Container, { allowed, everyTemplate }: Oracles): string | undefined {
  return (
    listViolation(
      { label: 'env', key: (e: { name: string }) => e.name, anyTemplate: everyTemplate.env, injected: allowed.env },
      original.name,
      original.env,
      kept.env,
    ) ??
    listViolation(
      { label: 'mount', key: (m: { mountPath: string }) => m.mountPath, anyTemplate: everyTemplate.mounts, injected: allowed.mounts },
      original.name,
      original.volumeMounts,
      kept.volumeMounts,
    )
  );
}

/** How to compare one list of a container (env or mounts): entries by key, and who may wire a key. */
interface WiredList<T> {
  label: string;
  key: (item: T) => string;
  anyTemplate: { has(key: string): boolean };
  injected: { has(key: string): boolean };
}

function listViolation<T>(
  list: WiredList<T>,
  container: string,
  beforeList: T[] | undefined,
  nowList: T[] | undefined,
): string | undefined {
  const before = beforeList ?? [];
  const now = nowList ?? [];
  for (const item of before) {
    const still = now.find((x) => list.key(x) === list.key(item));
    const wrong = still === undefined ? !list.anyTemplate.has(list.key(item)) : !same(still, item) && !list.injected.has(list.key(item));
    if (wrong) return `oracle 2: ${list.label} ${list.key(item)} of '${container}' changed`;
  }
  for (const item of now) {
    if (!before.some((x) => list.key(x) === list.key(item)) && !list.injected.has(list.key(item)))
      return `oracle 2: ${list.label} ${list.key(item)} added to '${container}' by no template's wiring`;
  }
  return undefined;
}

/** Oracle 2 on the pod's own volumes: removed or changed only where some template declares the name. */
function ownVolumesViolation(before: PodSpec, now: PodSpec, everyTemplate: Declared): string | undefined {
  for (const v of before.volumes ?? []) {
    const still = (now.volumes ?? []).find((x) => x.name === v.name);
    if (still === undefined ? !everyTemplate.volumes.has(v.name) : !same(still, v) && !everyTemplate.volumes.has(v.name))
      return `oracle 2: the pod's volume '${v.name}' was changed`;
  }
  return undefined;
}

/** Oracle 3: every added or replaced container is one an injected template declares, as declared. */
function addedContainersViolation(before: PodSpec, now: PodSpec, replaced: V1Container[], allowed: Declared): string | undefined {
  const originalNames = new Set(allContainers(before).map((c) => c.name));
  for (const added of [...allContainers(now).filter((c) => !originalNames.has(c.name)), ...replaced]) {
    const declaredAs = allowed.containers.get(added.name);
    if (declaredAs === undefined) return `oracle 3: container '${added.name}' was added but no injected template declares it`;
    if (added.image !== declaredAs.image)
      return `oracle 3: container '${added.name}' runs ${added.image}, the template declares ${declaredAs.image}`;
    if (!same(added.securityContext, { ...allowed.defaults.get(added.name), ...declaredAs.securityContext }))
      return `oracle 3: container '${added.name}' has a securityContext the template does not declare`;
  }
  return undefined;
}

/** Oracle 3: every added or changed volume is one an injected template declares, with its hostPath. */
function addedVolumesViolation(before: PodSpec, now: PodSpec, { allowed, injected }: Oracles): string | undefined {
  const beforeVolumes = new Set((before.volumes ?? []).map((v) => v.name));
  for (const v of now.volumes ?? []) {
    if (
      beforeVolumes.has(v.name) &&
      same(
        v,
        (before.volumes ?? []).find((x) => x.name === v.name),
      )
    )
      continue;
    if (!allowed.volumes.has(v.name)) return `oracle 3: volume '${v.name}' was added but no injected template declares it`;
    const spec = injected.flatMap((x) => x.spec.volumes).find((x) => x.name === v.name);
    if (spec !== undefined && !same(v.hostPath, spec.hostPath))
      return `oracle 3: volume '${v.name}' has a hostPath the template does not declare`;
  }
  return undefined;
}

/** Oracle 3: the pod-level fields that grant privilege never change. */
function podFieldsViolation(before: PodSpec, now: PodSpec): string | undefined {
  for (const field of ['serviceAccountName', 'hostNetwork', 'hostPID', 'hostIPC', 'securityContext'] as const) {
    if (!same(before[field], now[field])) return `oracle 3: spec.${field} changed`;
  }
  return undefined;
}

/**
 * The oracles on an injected answer: the patch applies (1), the result keeps what the pod had
 * and adds only what the templates declare (2, 3), and reviewing the result again, as sent back
 * and as the API server stores it, changes nothing (4).
 */
function injectedAnswerViolation(
  pod: PodLike,
  response: Parameters<typeof patchOf>[0],
  templates: { name: string }[],
  id: string,
): string | undefined {
  let after: PodLike;
  try {
    after = jsonpatch.applyPatch(structuredClone(pod), patchOf(response), true, false).newDocument;
  } catch (error) {
    return `oracle 1: the patch does not apply (${(error as Error).message})`;
  }
  const why = violation(
    pod,
    after,
    templates.map((x) => catalog.get(x.name)!),
  );
  if (why !== undefined) return why;
  const again = decide(request(`again-${id}`, after), deps);
  if (again.outcome !== 'skipped' || again.response.patch !== undefined)
    return `oracle 4: reviewing the result again gave ${again.outcome} (${again.reason})${process.env['PODPATTERN_HOSTILE_DEBUG'] ? ` ${JSON.stringify(pod)} => ${JSON.stringify(after)}` : ''}`;
  // The same as a reinvocation sees it: stored by the API server (empty values omitted, the
  // ServiceAccount token mounted into our containers too).
  const stored = decide(request(`stored-${id}`, storedByApiServer(after)), deps);
  if (stored.outcome !== 'skipped' || stored.response.patch !== undefined)
    return `oracle 4: the stored result reviewed again gave ${stored.outcome} (${stored.reason})`;
  return undefined;
}

const CONTROL = /\\u001b|\\u0007|\\u0000|\u202e/;

t.test(`${RUNS} hostile reviews hold the four oracles`, async (t) => {
  const counts = { reviews: 0, injected: 0, denied: 0, skipped: 0, violations: 0 };
  const violations: string[] = [];
  const reasons: Record<string, number> = {};
  const run = () =>
    fc.assert(
      fc.property(generated, ({ pod, status }) => {
        counts.reviews += 1;
        const decision = decide(request(`h-${counts.reviews}`, pod), deps);
        const response = decision.response;
        const fail = (why: string): boolean => {
          counts.violations += 1;
          violations.push(`${why} (status record: ${status})`);
          return false;
        };
        if (decision.outcome === 'error') return fail(`internal error: ${decision.error?.message}`);
        if (CONTROL.test(JSON.stringify(response))) return fail('a control character was echoed raw');
        if (JSON.stringify(response).length > 64 * 1024) return fail('an answer over 64 KiB');
        if (decision.outcome === 'denied') {
          counts.denied += 1;
          reasons[decision.reason] = (reasons[decision.reason] ?? 0) + 1;
          return response.allowed === false && response.patch === undefined && (response.status?.details?.causes?.length ?? 0) <= 20;
        }
        if (decision.outcome === 'skipped') {
          counts.skipped += 1;
          return response.patch === undefined || fail('a skip came with a patch');
        }
        counts.injected += 1;
        const why = injectedAnswerViolation(pod, response, decision.templates, `${counts.reviews}`);
        return why === undefined || fail(why);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  t.doesNotThrow(run, `${RUNS} reviews, seed ${SEED}${violations.length > 0 ? `; first violation: ${violations[0]}` : ''}`);
  t.comment(`hostile suite: ${JSON.stringify(counts)}`);
  t.comment(`denials by reason: ${JSON.stringify(reasons)}`);
  t.same(violations, [], 'no oracle violations');
  t.equal(counts.reviews, RUNS, `${RUNS} reviews`);
  t.ok(counts.injected > RUNS / 10, `a good share injected (${counts.injected})`);
  t.ok(counts.denied > RUNS / 10, `a good share denied (${counts.denied})`);
});

t.test('the oracles flag a wrong answer', async (t) => {
  const pod: PodLike = {
    metadata: { name: 'p', annotations: {} },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1', env: [{ name: 'A', value: '1' }] }] },
  };
  const answer = (change: (spec: PodSpec) => void): PodLike => {
    const after = structuredClone(pod);
    change(after.spec!);
    return after;
  };
  t.equal(violation(pod, pod, []), undefined, 'an unchanged pod breaks none');
  t.match(
    violation(
      pod,
      answer((spec) => (spec.containers[0]!.image = 'example.org/evil:1')),
      [],
    ),
    /^oracle 2: the pod's container 'app'/,
  );
  t.match(
    violation(
      pod,
      answer((spec) => spec.containers[0]!.env!.push({ name: 'B', value: '2' })),
      [],
    ),
    /^oracle 2: env B added to 'app'/,
  );
  t.match(
    violation(
      pod,
      answer((spec) => spec.containers.push({ name: 'miner', image: 'example.org/miner:1' })),
      [],
    ),
    /^oracle 3: container 'miner' was added/,
  );
  t.match(
    violation(
      pod,
      answer((spec) => (spec.hostNetwork = true)),
      [],
    ),
    /^oracle 3: spec\.hostNetwork changed/,
  );
});
