// Every connection of a server, from its first byte, and whether it carries a request.
//
// Node's http server only knows a TLS connection once its handshake is done, and its
// closeIdleConnections() spares one that has sent part of a request's headers. So on shutdown a
// client that opens a TCP connection and never sends a ClientHello, or sends half a header and
// stops, kept the process alive after the listener closed (until the TLS handshake timeout,
// 120 s by default: past the pod's grace period, so the kubelet killed it mid-drain). This
// tracks raw sockets as they are accepted and requests as they arrive, so shutdown can end at
// once every connection with no request in flight, and the rest after a grace period.
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

export class Connections {
  private readonly sockets = new Map<string, Socket>();
  /** Requests in flight, by connection. */
  private readonly busy = new Map<string, number>();

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      const key = keyOf(socket);
      this.sockets.set(key, socket);
      socket.once('close', () => {
        this.sockets.delete(key);
        this.busy.delete(key);
      });
    });
    // The request's socket is the TLS socket; it has the raw socket's peer address and port.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
      const key = keyOf(request.socket);
      this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
      response.once('close', () => {
        const left = (this.busy.get(key) ?? 1) - 1;
        if (left > 0) this.busy.set(key, left);
        else this.busy.delete(key);
      });
    });
  }

  get size(): number {
    return this.sockets.size;
  }

  /** Ends every connection with no request in flight: idle, half-sent headers, mid-handshake. Returns how many. */
  closeIdle(): number {
    let closed = 0;
    for (const [key, socket] of this.sockets) {
      if (this.busy.has(key)) continue;
      socket.destroy();
      closed += 1;
    }
    return closed;
  }

  /** Ends every connection. */
  closeAll(): void {
    for (const socket of this.sockets.values()) socket.destroy();
  }
}

function keyOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
}
