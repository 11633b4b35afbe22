// TLS helpers for tests: certificates made on the spot, and HTTPS requests that report which
// certificate the server presented. Only tests whose subject is TLS itself open sockets.
import { request as httpsRequest, Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { generateCertificates, type GeneratedCertificates } from '../../src/certs/generate.js';

export type { GeneratedCertificates };

/** A CA and a leaf for localhost/127.0.0.1; pass `ca` to sign a second leaf with the same CA. */
export function makeCertificates(options: Parameters<typeof generateCertificates>[0] = {}): Promise<GeneratedCertificates> {
  return generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], ...options });
}

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** sha256 fingerprint (colon hex, like X509Certificate.fingerprint256) of the certificate the server showed. */
  fingerprint: string | undefined;
}

export interface HttpsRequestOptions {
  /** 127.0.0.1 unless given (a pod IP, for the pod-runner tests). */
  host?: string;
  port: number;
  ca: string;
  path?: string;
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Omit for a fresh connection (and a fresh TLS handshake) per request. */
  agent?: Agent | false;
  servername?: string;
  /** A client certificate and its key, to authenticate to the server. */
  cert?: string;
  key?: string;
}

export function httpsCall(options: HttpsRequestOptions): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port,
        path: options.path ?? '/mutate',
        method: options.method ?? 'POST',
        ca: options.ca,
        servername: options.servername ?? 'localhost',
        agent: options.agent ?? false,
        ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }),
        headers: { 'content-type': 'application/json', ...options.headers },
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const peer = socket.getPeerCertificate?.();
        const fingerprint = peer && 'fingerprint256' in peer ? peer.fingerprint256 : undefined;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), fingerprint }),
        );
        res.on('error', reject);
      },
    );
    // Whether the review got as far as the server: a connection reset before its TLS handshake
    // ended (still in the kernel's accept queue when the listener closed) carried none.
    let secure = false;
    req.on('socket', (socket: TLSSocket) => {
      // A kept-alive connection finished its handshake long ago: a listener for it would never
      // fire, and one added per request would pile up on the connection.
      if (!socket.connecting && socket.authorized) secure = true;
      else socket.once('secureConnect', () => (secure = true));
    });
    req.on('error', (error) => reject(Object.assign(error, { tlsEstablished: secure })));
    req.end(options.body);
  });
}

export interface Sending {
  results: HttpsResult[];
  errors: string[];
  /** Stops sending and resolves once every client's last review is answered. */
  stop(): Promise<void>;
}

/** `clients` loops sending reviews on a keep-alive pool, as the API server does, until stopped. */
export function keepSending(options: { port: number; ca: string; clients: number; body: (n: number) => string }): Sending {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
  const results: HttpsResult[] = [];
  const errors: string[] = [];
  let sending = true;
  let n = 0;
  const loops = Array.from({ length: options.clients }, async () => {
    while (sending) {
      n += 1;
      try {
        results.push(await httpsCall({ port: options.port, ca: options.ca, agent, body: options.body(n) }));
      } catch (e) {
        const { message, tlsEstablished } = e as Error & { tlsEstablished?: boolean };
        errors.push(tlsEstablished === false ? `before the TLS handshake ended: ${message}` : message);
      }
    }
  });
  return {
    results,
    errors,
    stop: async () => {
      sending = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}
