// The slow-log adapter: polls SLOWLOG GET from the Redis in the pod and writes each new slow
// command as one JSON line. Each SLOWLOG entry is [id, unix time, microseconds, [command and
// arguments], client address, client name] (the last two since Redis 4.0; redis.io SLOWLOG GET).
// Entries come newest first; ids only grow, so an entry is new when its id is above the last
// one written. A Redis restart starts ids again from 0, which shows as a highest id below ours.
import { RespError, sendCommand, type RespValue } from './resp.js';
import type { AdapterIo } from './poll.js';

export interface SlowlogOptions {
  host: string;
  port: number;
  /** Entries read per poll (SLOWLOG GET count). */
  count: number;
  /** The whole poll, reply included. */
  timeoutMs: number;
  /** Largest SLOWLOG GET reply read (default MAX_REPLY_BYTES). */
  maxReplyBytes?: number;
}

/**
 * Redis keeps at most 32 arguments of at most 128 bytes each in a slow log entry (redis.io
 * SLOWLOG), a few KiB an entry: 10,000 entries (the most --count asks for) fit in 32 MiB.
 */
export const MAX_REPLY_BYTES = 32 * 1024 * 1024;

export interface SlowlogState {
  lastId: number | undefined;
}

export async function pollSlowlog(options: SlowlogOptions, state: SlowlogState, io: AdapterIo, signal?: AbortSignal): Promise<void> {
  const reply = await sendCommand(options.host, options.port, ['SLOWLOG', 'GET', String(options.count)], {
    timeoutMs: options.timeoutMs,
    maxReplyBytes: options.maxReplyBytes ?? MAX_REPLY_BYTES,
    ...(signal === undefined ? {} : { signal }),
  });
  if (reply instanceof RespError) throw reply;
  if (!Array.isArray(reply)) throw new Error('SLOWLOG GET did not answer with an array');
  const entries = reply
    .map(toEntry)
    .filter((e): e is SlowEntry => e !== undefined)
    .sort((a, b) => a.id - b.id);
  const highest = entries.at(-1)?.id;
  if (state.lastId !== undefined && highest !== undefined && highest < state.lastId) {
    io.diagnostic('slow log ids went back: Redis restarted or the log was reset', { lastId: state.lastId, highest });
    state.lastId = undefined;
  }
  for (const entry of entries) {
    if (state.lastId !== undefined && entry.id <= state.lastId) continue;
    // One entry's oddity is its own: the entries after it are written all the same.
    try {
      io.record(toRecord(entry, io));
    } catch (error) {
      io.diagnostic('a slow log entry cannot be written', { id: entry.id, error: (error as Error).message });
    }
    state.lastId = entry.id;
  }
}

function toRecord(entry: SlowEntry, io: AdapterIo): Record<string, unknown> {
  const ms = entry.unixTime * 1000;
  // Date's range is ±8.64e15 ms; Redis writes seconds since the epoch, so anything else is a
  // broken or hostile reply: the entry keeps its raw time and gets the time it was read.
  const valid = Number.isFinite(ms) && Math.abs(ms) <= 8.64e15;
  if (!valid)
    io.diagnostic('slow log entry time out of range; written with the time it was read', { id: entry.id, unixTime: entry.unixTime });
  return {
    time: new Date(valid ? ms : Date.now()).toISOString(),
    ...(valid ? {} : { unix_time: entry.unixTime }),
    source: 'redis-slowlog',
    id: entry.id,
    duration_us: entry.durationUs,
    command: entry.args[0] ?? '',
    args: entry.args.slice(1),
    ...(entry.client === undefined ? {} : { client: entry.client }),
    ...(entry.clientName === undefined || entry.clientName === '' ? {} : { client_name: entry.clientName }),
  };
}

interface SlowEntry {
  id: number;
  unixTime: number;
  durationUs: number;
  args: string[];
  client?: string;
  clientName?: string;
}

function toEntry(value: RespValue): SlowEntry | undefined {
  if (!Array.isArray(value) || value.length < 4) return undefined;
  const [id, unixTime, durationUs, args, client, clientName] = value;
  if (typeof id !== 'number' || typeof unixTime !== 'number' || typeof durationUs !== 'number' || !Array.isArray(args)) return undefined;
  return {
    id,
    unixTime,
    durationUs,
    args: args.map(String),
    ...(typeof client === 'string' ? { client } : {}),
    ...(typeof clientName === 'string' ? { clientName } : {}),
  };
}
