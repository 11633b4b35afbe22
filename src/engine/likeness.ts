// Whether an object in a pod is the one a template renders: what "ours" means when a pod that
// carries podpattern.dev/status comes back (a reinvocation, a re-created pod, a workload injected
// offline). The API server changes what it stores in known ways (defaults, canonical
// quantities, omitted empty values) and its own plugins add to our containers (the
// ServiceAccount token mount), so most fields are compared by `covers`: everything we set is
// there, more may be added. The fields that decide what a container runs and with which
// privileges are compared exactly (`sameContainer`): a copy of our container with its command
// prefixed (`sh -c '…' nginx …`), a capability added or a file of its own runs something else
// under our name, and is not ours.
import type { V1Container } from '#kube';

/**
 * Fields that may differ between what we rendered and what the API server stored without the
 * object being someone else's: quantities are rewritten to canonical form ("0.5" -> "500m"),
 * and whether a sidecar is a native one (restartPolicy) follows the server's version.
 */
const LOOSE = new Set(['resources', 'restartPolicy', 'sizeLimit']);

/**
 * Rendered in place of $(pod.name) and $(pod.namespace) when rebuilding what a status records:
 * the pod's name at injection time is not known later (a workload injected offline named its pod
 * template after the workload; the API server names its pods after the ReplicaSet), so any text
 * stands in for it. It also stands for a parameter of a template the pod no longer asks for and
 * no longer sets (the value it was injected with is gone with its annotation).
 */
export const ANY_TEXT = '\u0000any\u0000';

/**
 * Whether `actual` holds every field of `expected` with the same value (it may hold more), and
 * every item of an expected list, in order (it may hold more items): the API server's own
 * mutating plugins add to what we injected (the ServiceAccount plugin mounts its token into
 * every container, ours too) and then reinvoke us, and such an addition must not make our
 * container look like someone else's, or every reinvocation would inject again.
 */
export function covers(expected: unknown, actual: unknown): boolean {
  if (expected === undefined) return true;
  if (actual === undefined && isEmptyValue(expected)) return true;
  if (typeof expected === 'string' && expected.includes(ANY_TEXT)) return matchesText(expected, actual);
  if (Array.isArray(expected)) return Array.isArray(actual) && coversInOrder(expected, actual);
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([key, value]) => {
      const held = (actual as Record<string, unknown>)[key];
      return LOOSE.has(key) || (value === false && held === undefined && OMITTED_FALSE.has(key)) || covers(value, held);
    });
  }
  return expected === actual;
}

/**
 * Values the API server stores as absent: its Go types omit an empty string and an empty list
 * or map (`omitempty`), so an env var we render with an empty value, or `args: []`, comes back
 * without the field. Absent and empty mean the same to Kubernetes.
 */
function isEmptyValue(value: unknown): boolean {
  if (value === '' || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * The container fields whose `false` the API server omits (plain Go bools with `omitempty`).
 * Every other bool of a container is a pointer, stored as written: `allowPrivilegeEscalation:
 * false` must still be there for a container to be ours.
 */
const OMITTED_FALSE = new Set(['readOnly', 'stdin', 'stdinOnce', 'tty']);

/** Whether each item of `expected` is covered by an item of `actual`, in order, with any items between. */
function coversInOrder(expected: unknown[], actual: unknown[]): boolean {
  let at = 0;
  for (const item of expected) {
    while (at < actual.length && !covers(item, actual[at])) at += 1;
    if (at === actual.length) return false;
    at += 1;
  }
  return true;
}

/**
 * Whether `text` is parts[0] + anything + parts[1] + … + parts[n]: the first part a prefix, the
 * last a suffix, each middle one found leftmost after the previous. Linear in the text.
 */
function matchesWithGaps(parts: string[], text: string): boolean {
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = text.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** `expected` (a string with ANY_TEXT in it) matches `actual`; a number or boolean by its text (a typed field filled by a parameter). */
function matchesText(expected: string, actual: unknown): boolean {
  const text = typeof actual === 'number' || typeof actual === 'boolean' ? String(actual) : actual;
  return typeof text === 'string' && matchesWithGaps(expected.split(ANY_TEXT), text);
}

/**
 * Values the API server stores for a security setting left unset: with the ProcMountType
 * feature it writes `procMount: Default` (the runtime's default masks) into a container's
 * securityContext (Kubernetes API reference, SecurityContext.procMount).
 */
const STORED_DEFAULTS: Record<string, unknown> = { procMount: 'Default' };

/**
 * Whether `actual` is `expected` and nothing more: every field the same, no field added, lists
 * of the same length, item by item. Absent and empty are the same (the API server omits
 * empty values), as is a field at the value the API server stores for it when unset.
 */
export function exactly(expected: unknown, actual: unknown): boolean {
  if (expected === undefined || isEmptyValue(expected)) return actual === undefined || isEmptyValue(actual);
  if (typeof expected === 'string' && expected.includes(ANY_TEXT)) return matchesText(expected, actual);
  if (Array.isArray(expected))
    return Array.isArray(actual) && actual.length === expected.length && expected.every((item, i) => exactly(item, actual[i]));
  if (typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const held = actual as Record<string, unknown>;
    const want = expected as Record<string, unknown>;
    for (const key of new Set([...Object.keys(want), ...Object.keys(held)])) {
      const value =
        want[key] === undefined && Object.hasOwn(STORED_DEFAULTS, key) && held[key] === STORED_DEFAULTS[key] ? undefined : held[key];
      if (!exactly(want[key], value)) return false;
    }
    return true;
  }
  return expected === actual;
}

/**
 * How a container runs: once, before the app (an init container), or for the pod's life (an
 * app container, or a native sidecar: an init container with restartPolicy Always).
 */
function longRunning(container: V1Container, list: 'containers' | 'initContainers'): boolean {
  return list === 'containers' || container.restartPolicy === 'Always';
}

/**
 * Whether `actual`, found in the pod's `list`, is the container a template renders as
 * `expected` (from `expectedList`). Whether a long-running helper is a native sidecar or a
 * classic container follows the server's version, so either is ours; but one that runs once
 * where we run it for the pod's life (a native sidecar whose restartPolicy another webhook
 * dropped holds the pod in Init forever), or the reverse, is not.
 */
export function sameContainer(
  expected: V1Container,
  expectedList: 'containers' | 'initContainers',
  actual: V1Container,
  list: 'containers' | 'initContainers',
): boolean {
  if (longRunning(expected, expectedList) !== longRunning(actual, list)) return false;
  if (
    !exactly(expected.command, actual.command) ||
    !exactly(expected.args, actual.args) ||
    !exactly(expected.securityContext, actual.securityContext)
  )
    return false;
  if (!sameImage(expected.image, actual.image)) return false;
  const { command: _c, args: _a, securityContext: _s, image: _i, ...rest } = expected;
  const { command: _c2, args: _a2, securityContext: _s2, image: _i2, ...held } = actual;
  return covers(rest, held);
}

/** An image reference taken apart (the Docker reference grammar: distribution/reference). */
export interface ImageReference {
  /** The repository path without the registry host; Docker Hub's official images under library/. */
  path: string;
  tag: string | undefined;
  digest: string | undefined;
}

export function parseImage(image: string): ImageReference {
  const at = image.indexOf('@');
  const digest = at === -1 ? undefined : image.slice(at + 1);
  const name = at === -1 ? image : image.slice(0, at);
  const colon = name.lastIndexOf(':');
  const tagged = colon > name.lastIndexOf('/');
  const tag = tagged ? name.slice(colon + 1) : undefined;
  const repository = tagged ? name.slice(0, colon) : name;
  const slash = repository.indexOf('/');
  const first = slash === -1 ? '' : repository.slice(0, slash);
  // The first component is a registry host when it has a dot or a port, or is localhost.
  const hosted = first.includes('.') || first.includes(':') || first === 'localhost';
  const path = hosted ? repository.slice(slash + 1) : repository;
  return { path: path.includes('/') ? path : `library/${path}`, tag, digest };
}

/**
 * Whether `actual` is the template's image, perhaps pulled through another registry: a
 * registry mirror's webhook rewrites the host (`nginx:1.29` to `mirror.corp:5000/library/nginx:1.29`)
 * so air-gapped nodes can pull it. The repository path and the tag must be the same; a digest
 * the template pins must be kept, and one a mirror adds to a tag the template left unpinned is
 * accepted (docs/troubleshooting.md, "Registry mirrors").
 */
export function sameImage(expected: string | undefined, actual: string | undefined): boolean {
  if (expected === undefined || actual === undefined) return expected === actual;
  if (expected === actual) return true;
  if (expected.includes(ANY_TEXT)) return matchesText(expected, actual);
  const want = parseImage(expected);
  const held = parseImage(actual);
  return want.path === held.path && want.tag === held.tag && (want.digest === undefined || want.digest === held.digest);
}
