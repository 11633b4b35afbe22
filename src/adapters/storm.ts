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
  timeoutMs: number;
}

type Json = Record<string, unknown>;

async function getJson(url: string, timeoutMs: number): Promise<Json> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET ${url}: status ${response.status}`);
  const body: unknown = await response.json();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error(`GET ${url}: not a JSON object`);
  return body as Json;
}

const pick = (object: Json, keys: string[]): Json => Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]]));
const list = (value: unknown): Json[] => (Array.isArray(value) ? value.filter((v): v is Json => v !== null && typeof v === 'object') : []);

const TOPOLOGY_STATS = ['emitted', 'transferred', 'acked', 'failed', 'completeLatency'];
const SPOUT_FIELDS = ['executors', 'tasks', 'emitted', 'transferred', 'acked', 'failed', 'completeLatency', 'lastError'];
const BOLT_FIELDS = ['executors', 'tasks', 'emitted', 'transferred', 'acked', 'failed', 'executed', 'executeLatency', 'processLatency', 'capacity', 'lastError'];

export async function pollStorm(options: StormOptions, io: AdapterIo): Promise<void> {
  const base = options.url.replace(/\/+$/, '');
  const summary = await getJson(`${base}/api/v1/topology/summary`, options.timeoutMs);
  const time = new Date().toISOString();
  for (const topology of list(summary.topologies)) {
    const id = typeof topology.id === 'string' || typeof topology.id === 'number' ? String(topology.id) : '';
    if (id === '') continue;
    const detail = await getJson(`${base}/api/v1/topology/${encodeURIComponent(id)}?window=${options.window}&sys=${options.system}`, options.timeoutMs);
    const stats = list(detail.topologyStats).find((s) => String(s.window) === String(options.window)) ?? {};
    const common = { time, source: 'storm', topology_id: id, topology: topology.name, window: options.window };
    io.record({ ...common, kind: 'topology', ...pick(topology, ['status', 'uptimeSeconds', 'workersTotal', 'executorsTotal', 'tasksTotal']), ...pick(stats, TOPOLOGY_STATS) });
    for (const spout of list(detail.spouts)) io.record({ ...common, kind: 'spout', component: spout.spoutId, ...pick(spout, SPOUT_FIELDS) });
    for (const bolt of list(detail.bolts)) io.record({ ...common, kind: 'bolt', component: bolt.boltId, ...pick(bolt, BOLT_FIELDS) });
  }
}
