// The Storm adapter: polls the Storm UI's REST API in the pod (Apache Storm, docs/STORM-UI-REST-API.md)
// and writes the statistics of each topology, and of each of its spouts and bolts, as JSON lines.
//   GET /api/v1/topology/summary               -> { topologies: [{ id, name, status, uptimeSeconds, … }] }
//   GET /api/v1/topology/:id?window=W&sys=B    -> { topologyStats: [{ window, emitted, transferred,
//                                                   acked, failed, completeLatency }], spouts: [...], bolts: [...] }
// `window` is in seconds (600, 10800, 86400, or ":all-time"); `sys` includes Storm's system components.
import type { AdapterIo } from './poll.js';

export interface StormOptions {
  /** Base URL of the Storm UI, e.g. http://127.0.0.1:8080. */
  url: string;
  window: number;
  system: boolean;
  /** Each request, body included. */
  timeoutMs: number;
  /** Largest body read (default MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

/**
 * A topology's statistics are a few KiB per spout and bolt; 16 MiB is room for thousands of
 * them. A body past it is refused as it streams, never held whole.
 */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

type Json = Record<string, unknown>;

async function getJson(url: string, options: StormOptions, stop: AbortSignal | undefined): Promise<Json> {
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const signal =
    stop === undefined ? AbortSignal.timeout(options.timeoutMs) : AbortSignal.any([AbortSignal.timeout(options.timeoutMs), stop]);
  const response = await fetch(url, { signal, headers: { accept: 'application/json' } });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: status ${response.status}`);
  }
  const text = await readLimited(url, response, limit);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new Error(`GET ${url}: not JSON (${(error as Error).message.slice(0, 200)})`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error(`GET ${url}: not a JSON object`);
  return body as Json;
}

/** The body as text, read as it streams and refused past `limit` bytes (a declared length past it is refused unread). */
async function readLimited(url: string, response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw new Error(`GET ${url}: the body declares ${declared} bytes, more than ${limit}`);
  }
  if (response.body === null) return '';
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let read = 0;
  // Node's web stream yields Uint8Array chunks; its type without the DOM library does not say so.
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    read += chunk.byteLength;
    if (read > limit) {
      await response.body.cancel().catch(() => undefined);
      throw new Error(`GET ${url}: the body is larger than ${limit} bytes`);
    }
    parts.push(decoder.decode(chunk, { stream: true }));
  }
  parts.push(decoder.decode());
  return parts.join('');
}

const pick = (object: Json, keys: string[]): Json =>
  Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]]));
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.filter((v): v is Json => v !== null && typeof v === 'object') : []);

const TOPOLOGY_STATS = ['emitted', 'transferred', 'acked', 'failed', 'completeLatency'];
const SPOUT_FIELDS = ['executors', 'tasks', 'emitted', 'transferred', 'acked', 'failed', 'completeLatency', 'lastError'];
const BOLT_FIELDS = [
  'executors',
  'tasks',
  'emitted',
  'transferred',
  'acked',
  'failed',
  'executed',
  'executeLatency',
  'processLatency',
  'capacity',
  'lastError',
];

export async function pollStorm(options: StormOptions, io: AdapterIo, stop?: AbortSignal): Promise<void> {
  const base = options.url.replace(/\/+$/, '');
  const summary = await getJson(`${base}/api/v1/topology/summary`, options, stop);
  const time = new Date().toISOString();
  for (const topology of list(summary.topologies)) {
    const id = typeof topology.id === 'string' || typeof topology.id === 'number' ? String(topology.id) : '';
    if (id === '') continue;
    const detail = await getJson(
      `${base}/api/v1/topology/${encodeURIComponent(id)}?window=${options.window}&sys=${options.system}`,
      options,
      stop,
    );
    const stats = list(detail.topologyStats).find((s) => String(s.window) === String(options.window)) ?? {};
    const common = { time, source: 'storm', topology_id: id, topology: topology.name, window: options.window };
    io.record({
      ...common,
      kind: 'topology',
      ...pick(topology, ['status', 'uptimeSeconds', 'workersTotal', 'executorsTotal', 'tasksTotal']),
      ...pick(stats, TOPOLOGY_STATS),
    });
    for (const spout of list(detail.spouts))
      io.record({ ...common, kind: 'spout', component: spout.spoutId, ...pick(spout, SPOUT_FIELDS) });
    for (const bolt of list(detail.bolts)) io.record({ ...common, kind: 'bolt', component: bolt.boltId, ...pick(bolt, BOLT_FIELDS) });
  }
}
