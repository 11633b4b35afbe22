// The namespace's LimitRanges, checked against the injected pod before podpattern answers, so a
// pod the API server would refuse after admission is denied here, naming the LimitRange.
//
// The API server's LimitRanger admission plugin fills in the defaults of a LimitRange (default,
// defaultRequest) before mutating webhooks run, and checks min, max and maxLimitRequestRatio
// after them (Kubernetes docs, "Limit Ranges"): containers podpattern adds get no defaults, so
// they must meet every constraint themselves. Per container (type Container): a min needs a
// request at or above it (and a limit, if set, too); a max needs a limit at or below it (and a
// request, if set, too); a ratio needs both, the limit at most that many times the request. Per
// pod (type Pod), the same on the pod's totals: its containers and native sidecars added up,
// or its largest run-once init container where that is more; a total limit exists only when
// every one of them sets one. Only constraints the injection breaks are reported: what the pod's
// own containers break is the pod author's, and the API server says so.
import type { V1Container, V1LimitRange, V1LimitRangeItem, V1PodSpec } from '#kube';
import { parameterKey } from '../model/keys.js';
import { formatQuantity, parseQuantity } from '../model/quantity.js';
import { printable } from './bounds.js';
import type { Piece } from './compose.js';
import type { Status } from './status.js';
import type { PodLike, Problem } from './types.js';

type Amounts = Record<string, string> | undefined;

/**
 * The namespace's LimitRanges as the server read them: the problems of the injected pod under
 * them; when they could not be read, a warning (the API server still checks them).
 */
export function checkLimitRanges(
  pod: PodLike & { spec: V1PodSpec },
  injection: Injection,
  ranges: readonly V1LimitRange[] | 'unreadable' | undefined,
  warnings: string[],
): Problem[] {
  if (ranges === 'unreadable') {
    warnings.push(
      "podpattern could not read this namespace's LimitRanges, so it did not check the injected containers against them; the API server still does",
    );
    return [];
  }
  return ranges === undefined || ranges.length === 0 ? [] : limitRangeProblems(pod, injection, ranges);
}

/** What was injected: the pod's spec before, the templates' pieces and the record of what they added. */
export interface Injection {
  before: V1PodSpec;
  pieces: Piece[];
  status: Status;
}

/** The problems of `pod` under `ranges`, for what the templates in `pieces` added (recorded in `status`). */
function limitRangeProblems(pod: PodLike & { spec: V1PodSpec }, injection: Injection, ranges: readonly V1LimitRange[]): Problem[] {
  const problems: Problem[] = [];
  for (const range of ranges.slice(0, 16)) {
    const name = `${printable(range.metadata?.namespace ?? '')}/${printable(range.metadata?.name ?? '')}`;
    const items = Array.isArray(range.spec?.limits) ? range.spec.limits.slice(0, 32) : [];
    for (const item of items) {
      if (item?.type === 'Container') problems.push(...containerProblems(pod.spec, injection, item, name));
      else if (item?.type === 'Pod') problems.push(...podProblems(pod.spec, injection, item, name));
    }
  }
  return problems;
}

/** A per-container item, for each container the injection added. */
function containerProblems(spec: V1PodSpec, { pieces, status }: Injection, item: V1LimitRangeItem, name: string): Problem[] {
  const owner = new Map<string, Piece>();
  for (const piece of pieces) for (const c of [...piece.rendered.containers, ...piece.rendered.initContainers]) owner.set(c.name, piece);
  const injected = [...spec.containers, ...(spec.initContainers ?? [])].filter(
    (c) => status.containers.includes(c.name) || status.initContainers.includes(c.name),
  );
  return injected.flatMap((container) => {
    const piece = owner.get(container.name);
    const whose = piece === undefined ? '' : `template ${piece.template.name}'s `;
    return faults(item, container.resources?.requests, container.resources?.limits).map((fault) =>
      problem(`LimitRange ${name} (per container): ${whose}container '${container.name}' ${fault.text}`, piece, fault.resource),
    );
  });
}

/** A per-pod item, for what the injection breaks that the pod did not break before. */
function podProblems(spec: V1PodSpec, { before, pieces }: Injection, item: V1LimitRangeItem, name: string): Problem[] {
  const was = new Set(faults(item, ...podTotals(before)).map((f) => `${f.rule} ${f.resource}`));
  return faults(item, ...podTotals(spec))
    .filter((fault) => !was.has(`${fault.rule} ${fault.resource}`))
    .map((fault) =>
      problem(
        `LimitRange ${name} (per pod): with what podpattern adds, the pod ${fault.text}`,
        pieces.find((p) => p.template.spec.sizing?.[fault.resource as 'cpu'] !== undefined),
        fault.resource,
      ),
    );
}

function problem(text: string, piece: Piece | undefined, resource: string): Problem {
  const sized =
    piece !== undefined && (resource === 'cpu' || resource === 'memory') && piece.template.spec.sizing?.[resource] !== undefined;
  const fix = sized
    ? `set ${parameterKey(piece.template.name, resource)} within it`
    : "ask the namespace's owner to allow it, or leave the template out";
  return {
    code: 'limit-range',
    ...(piece === undefined ? {} : { template: piece.template.name }),
    message: `${text}; the API server would refuse the pod: ${fix}`,
  };
}

interface Fault {
  resource: string;
  /** Which constraint, e.g. `max limit`: the same one broken before injection is not podpattern's. */
  rule: string;
  text: string;
}

/** One bound of a LimitRange item for one resource, beside the request and limit it is checked against. */
interface Bound {
  resource: string;
  /** As the LimitRange writes it, e.g. `512Mi`. */
  text: string;
  value: bigint;
  request: bigint | undefined;
  limit: bigint | undefined;
  /** The request and limit as written. */
  requested: string | undefined;
  limited: string | undefined;
}

/** What breaks `item`'s min, max and maxLimitRequestRatio, for these requests and limits. */
function faults(item: V1LimitRangeItem, requests: Amounts, limits: Amounts): Fault[] {
  const out: Fault[] = [];
  const checks: Array<[Record<string, string> | undefined, (bound: Bound) => Fault[]]> = [
    [item.min, minFaults],
    [item.max, maxFaults],
    [item.maxLimitRequestRatio, ratioFaults],
  ];
  for (const [bounds, check] of checks) {
    for (const [resource, text] of entries(bounds)) {
      const value = parseQuantity(text);
      if (value === undefined) continue;
      const [request, limit] = [amount(requests, resource), amount(limits, resource)];
      out.push(...check({ resource, text, value, request, limit, requested: requests?.[resource], limited: limits?.[resource] }));
    }
  }
  return out;
}

function amount(list: Amounts, resource: string): bigint | undefined {
  return list === undefined || typeof list[resource] !== 'string' ? undefined : parseQuantity(list[resource]);
}

function minFaults({ resource, text, value, request, limit, requested, limited }: Bound): Fault[] {
  const out: Fault[] = [];
  if (request === undefined) out.push({ resource, rule: 'min request', text: `requests no ${resource}, and the minimum is ${text}` });
  else if (request < value)
    out.push({ resource, rule: 'min request', text: `requests ${resource} ${requested}, below the minimum ${text}` });
  if (limit !== undefined && limit < value)
    out.push({ resource, rule: 'min limit', text: `limits ${resource} to ${limited}, below the minimum ${text}` });
  return out;
}

function maxFaults({ resource, text, value, request, limit, requested, limited }: Bound): Fault[] {
  const out: Fault[] = [];
  if (limit === undefined) out.push({ resource, rule: 'max limit', text: `sets no ${resource} limit, and the maximum is ${text}` });
  else if (limit > value) out.push({ resource, rule: 'max limit', text: `limits ${resource} to ${limited}, above the maximum ${text}` });
  if (request !== undefined && request > value)
    out.push({ resource, rule: 'max request', text: `requests ${resource} ${requested}, above the maximum ${text}` });
  return out;
}

function ratioFaults({ resource, text, value, request, limit, requested, limited }: Bound): Fault[] {
  if (request === undefined || request === 0n || limit === undefined)
    return [{ resource, rule: 'ratio', text: `needs both a ${resource} request and limit (their ratio is at most ${text}) and lacks one` }];
  if (limit * 1_000_000_000n > value * request)
    return [{ resource, rule: 'ratio', text: `has a ${resource} limit ${limited} over ${text} times its request ${requested}` }];
  return [];
}

function entries(map: Record<string, string> | undefined): [string, string][] {
  if (map === null || typeof map !== 'object') return [];
  return Object.entries(map)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .slice(0, 16);
}

/** The pod's requests and limits as LimitRanger adds them up (see the file's comment). */
function podTotals(spec: V1PodSpec): [Amounts, Amounts] {
  const running: V1Container[] = [...spec.containers, ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
  const once = (spec.initContainers ?? []).filter((c) => c.restartPolicy !== 'Always');
  return [total(running, once, 'requests'), total(running, once, 'limits')];
}

/** One of the totals, by resource; a limit total only where every container sets that limit. */
function total(running: V1Container[], once: V1Container[], field: 'requests' | 'limits'): Amounts {
  const resources = new Set<string>();
  for (const c of [...running, ...once]) for (const key of Object.keys(c.resources?.[field] ?? {})) resources.add(key);
  const out: Record<string, string> = {};
  for (const resource of resources) {
    const values = [...running, ...once].map((c) => amount(c.resources?.[field], resource));
    if (field === 'limits' && values.includes(undefined)) continue;
    let sum = 0n;
    values.slice(0, running.length).forEach((v) => (sum += v ?? 0n));
    for (const v of values.slice(running.length)) if (v !== undefined && v > sum) sum = v;
    out[resource] = resource === 'cpu' || resource === 'memory' ? formatQuantity(sum, resource) : `${sum}n`;
  }
  return out;
}
