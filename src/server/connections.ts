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
 * (an idle TLS connection holds about 44 KiB; one mid-handshake more): a tenth of the limit, so
 * a flood of connections fits beside the heap (heap.ts) and the bodies in flight.
 */
const CONNECTION_SHARE = 0.1;
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
  /** Connections held at once; no cap when absent. */
  maxConnections?: number;
}

interface Tracked {
  socket: Socket;
  /** Requests in flight. */
  busy: number;
  /** performance.now() when a request last began or ended, or when it connected. */
  lastActive: number;
}

export class Connections {
  private readonly tracked = new Map<string, Tracked>();
  private refusedCount = 0;

  constructor(server: Server, limits: ConnectionLimits = {}) {
    server.on('connection', (socket: Socket) => {
      const key = keyOf(socket);
      this.tracked.set(key, { socket, busy: 0, lastActive: performance.now() });
      socket.once('close', () => {
        if (this.tracked.get(key)?.socket === socket) this.tracked.delete(key);
      });
    });
    // The request's socket is the TLS socket; it has the raw socket's peer address and port.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      const entry = this.tracked.get(keyOf(request.socket));
      if (entry === undefined) return; // app.inject(), or a socket already gone
      entry.busy += 1;
      entry.lastActive = performance.now();
      response.once('close', () => {
        entry.busy -= 1;
        entry.lastActive = performance.now();
      });
    });
    if (limits.maxConnections !== undefined) {
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => (this.refusedCount += 1));
    }
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
   * Ends every connection with no request in flight (idle, half-sent headers, mid-handshake)
   * and none begun or ended for `ms`. Returns how many.
   */
  closeIdle(ms = 0): number {
    return this.closeIdleFor(ms);
  }

  /** Ends every connection. */
  closeAll(): void {
    for (const { socket } of this.tracked.values()) socket.destroy();
  }

  /** Ends the connections with no request in flight and none begun or ended for `ms`. */
  private closeIdleFor(ms: number): number {
    const now = performance.now();
    let closed = 0;
    for (const { socket, busy, lastActive } of this.tracked.values()) {
      if (busy > 0 || now - lastActive < ms) continue;
      socket.destroy();
      closed += 1;
    }
    return closed;
  }
}

function keyOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
