// Every connection of a server, from its first byte, and whether it carries a request.
//
// Node's http server only knows a TLS connection once its handshake is done, and its
// closeIdleConnections() spares one that has sent part of a request's headers. So on shutdown a
// client that opens a TCP connection and never sends a ClientHello, or sends half a header and
// stops, kept the process alive after the listener closed (until the TLS handshake timeout,
// 120 s by default: past the pod's grace period, so the kubelet killed it mid-drain). This
// tracks raw sockets as they are accepted and requests as they arrive, so shutdown can end at
// once every connection with no request in flight, and the rest after a grace period.
//
// While serving it also bounds what connections can hold:
// - idle: a connection with no request in flight and no request begun or ended for
//   `idleTimeoutMs` is closed. Node's own socket timeout (Fastify's connectionTimeout) did not
//   do it for TLS connections that never sent a request: on Node 20, twenty of them were still
//   open after 421 s under a 125 s timeout. A sweep over the connections known here does not
//   depend on how a Node version arms its timers.
// - how many: past `maxConnections` the server closes a new connection as it is accepted
//   (net.Server's maxConnections, https://nodejs.org/api/net.html#servermaxconnections), before
//   its TLS handshake; the ones held keep working. An idle TLS connection costs about 44 KiB
//   outside the V8 heap: ten thousand of them held half a gigabyte.
import type { Server, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

const KiB = 1024;
/**
 * Memory the connections may take, as a share of the container's memory limit, at 64 KiB each
 * (an idle TLS connection holds about 44 KiB; one mid-handshake more; on Node 24 the ~600 a
 * tenth of 384Mi allowed took 35 MiB): 2.5 % of the limit, 153 connections at 384Mi, so a flood
 * of connections fits beside the heap (heap.ts) and the bodies in flight under 60 % of the limit
 * (docs/install.md, "Memory"). The API server keeps a few connections per replica.
 */
const CONNECTION_SHARE = 0.025;
const CONNECTION_BYTES = 64 * KiB;
/** Without a memory limit (a developer's machine). */
const UNLIMITED_MAX_CONNECTIONS = 4096;
/** Never fewer: an API server with a few replicas keeps a pool of connections each. */
const MIN_MAX_CONNECTIONS = 128;

/** The default connection cap for a container memory limit in bytes (undefined: none). */
export function defaultMaxConnections(memoryLimitBytes: number | undefined): number {
  if (memoryLimitBytes === undefined) return UNLIMITED_MAX_CONNECTIONS;
  return Math.max(MIN_MAX_CONNECTIONS, Math.floor((memoryLimitBytes * CONNECTION_SHARE) / CONNECTION_BYTES));
}

export interface ConnectionLimits {
  /** Close a connection with nothing in flight after this long without a request; none when absent. */
  idleTimeoutMs?: number;
  /**
   * When the server closes, a connection with nothing in flight is ended only once it has been
   * quiet this long (no request begun or ended, no byte received); 0 when absent.
   */
  closeQuietMs?: number;
  /** Connections held at once; no cap when absent. */
  maxConnections?: number;
}

interface Tracked {
  socket: Socket;
  /** Requests in flight. */
  busy: number;
  /** Those requests, with when each began: to tell one whose body is still arriving. */
  requests: Map<IncomingMessage, number>;
  /** performance.now() when a request last began or ended, when it connected, or when bytes were last seen arriving. */
  lastActive: number;
  /**
   * The raw socket's bytesRead at lastActive: more read since means something is under way on
   * it (a TLS handshake, a request not parsed yet), though no request has begun.
   */
  bytesSeen: number;
}

export class Connections {
  private readonly tracked = new Map<string, Tracked>();
  private refusedCount = 0;
  /** performance.now() when shutdown began (startDraining, or the first close). */
  private drainingSince: number | undefined;
  private readonly closeQuietMs: number;

  constructor(server: Server, limits: ConnectionLimits = {}) {
    this.closeQuietMs = limits.closeQuietMs ?? 0;
    server.on('connection', (socket: Socket) => {
      const key = keyOf(socket);
      this.tracked.set(key, { socket, busy: 0, requests: new Map(), lastActive: performance.now(), bytesSeen: 0 });
      socket.once('close', () => {
        if (this.tracked.get(key)?.socket === socket) this.tracked.delete(key);
      });
    });
    // The request's socket is the TLS socket; it has the raw socket's peer address and port.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      const entry = this.tracked.get(keyOf(request.socket));
      if (entry === undefined) return; // app.inject(), or a socket already gone
      entry.busy += 1;
      touch(entry);
      entry.requests.set(request, entry.lastActive);
      response.once('close', () => {
        entry.busy -= 1;
        entry.requests.delete(request);
        touch(entry);
      });
    });
    // A finished TLS handshake is activity too; what comes after it is a request's bytes.
    server.on('secureConnection', (socket: Socket) => {
      const entry = this.tracked.get(keyOf(socket));
      if (entry !== undefined) touch(entry);
    });
    if (limits.maxConnections !== undefined) {
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => (this.refusedCount += 1));
    }
    // Node's http server.close() ends at once every connection on which no request is being
    // parsed (it calls closeIdleConnections(), https://nodejs.org/api/http.html#serverclosecallback),
    // and so does Fastify's forceCloseConnections: 'idle'. A client that has just finished its
    // TLS handshake, or reuses a keep-alive connection, may have its review on the wire at that
    // moment: destroyed with those bytes unread, the connection answers them with a reset (2 a
    // drain when the drain window is 0, bench/drain-resets.ts). Here closing ends only the
    // connections closeQuiet() judges safe to end.
    const http = server as Server & { closeIdleConnections?: () => void };
    if (typeof http.closeIdleConnections === 'function') http.closeIdleConnections = () => void this.closeQuiet();
    const { idleTimeoutMs } = limits;
    if (idleTimeoutMs !== undefined) {
      // Swept four times per timeout: an idle connection is closed within 1.25 timeouts.
      const sweep = setInterval(() => this.closeIdleFor(idleTimeoutMs), Math.max(10, idleTimeoutMs / 4));
      sweep.unref();
      server.once('close', () => clearInterval(sweep));
    }
  }

  get size(): number {
    return this.tracked.size;
  }

  /** Connections closed as they were accepted because `maxConnections` were held. */
  get refused(): number {
    return this.refusedCount;
  }

  /**
   * Shutdown has begun: from now on, activity on a connection means a client still using it.
   * Bytes read before now count as activity just before it (a handshake or half a request
   * under way then is judged by its quiet from here).
   */
  startDraining(): void {
    if (this.drainingSince !== undefined) return;
    const now = performance.now();
    for (const entry of this.tracked.values()) {
      if (entry.socket.bytesRead !== entry.bytesSeen) touch(entry, now - 1);
    }
    this.drainingSince = now;
  }

  /**
   * At shutdown, ends every connection that is safe to end (idle, half-sent headers,
   * mid-handshake): no request in flight, no activity since the drain began (a client that
   * connected or sent a review since is still using it: its review is answered with
   * Connection: close, and it ends), none for closeQuietMs, and no byte read since its last
   * activity. A connection idle since before the drain can still race a request against its
   * close, as any keep-alive connection can; the drain window makes that unlikely. Returns how many.
   */
  closeQuiet(): number {
    this.startDraining();
    return this.closeIdleFor(this.closeQuietMs, this.drainingSince);
  }

  /**
   * Ends the connections with a request whose body is still arriving after `ms` (a slow sender),
   * and only those: a review whose body is in is decided in milliseconds, and a connection with
   * none in flight is closeQuiet's. Returns how many.
   */
  closeArriving(ms: number): number {
    const now = performance.now();
    let closed = 0;
    for (const { socket, requests } of this.tracked.values()) {
      if (![...requests].some(([request, began]) => !request.complete && now - began >= ms)) continue;
      socket.destroy();
      closed += 1;
    }
    return closed;
  }

  /** Ends every connection. */
  closeAll(): void {
    for (const { socket } of this.tracked.values()) socket.destroy();
  }

  /**
   * Ends the connections with no request in flight, none begun or ended for `ms` (nor since
   * `activeBefore`, when given), and no byte received since then (a handshake or a request
   * under way restarts the count). Returns how many it ends.
   */
  private closeIdleFor(ms: number, activeBefore = Number.POSITIVE_INFINITY): number {
    const now = performance.now();
    const quiet: Tracked[] = [];
    for (const entry of this.tracked.values()) {
      if (entry.socket.bytesRead !== entry.bytesSeen) touch(entry, now);
      if (entry.busy > 0 || now - entry.lastActive < ms || entry.lastActive >= activeBefore) continue;
      quiet.push(entry);
    }
    // Ended after this turn of the event loop has read what the sockets hold: a sweep runs as a
    // timer, before the loop polls the sockets, so after a stall (a loaded machine) a client's
    // bytes can be waiting in the kernel while its connection looks quiet. Destroyed with them
    // unread, it would answer them with a reset; one that read anything is spared.
    if (quiet.length > 0) {
      setImmediate(() => {
        for (const entry of quiet) if (entry.busy === 0 && entry.socket.bytesRead === entry.bytesSeen) entry.socket.destroy();
      });
    }
    return quiet.length;
  }
}

function touch(entry: Tracked, now = performance.now()): void {
  entry.lastActive = now;
  entry.bytesSeen = entry.socket.bytesRead;
}

function keyOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
