// A mutating webhook that does no work, in Node.js: `npm run bench:cluster` runs it beside
// podpattern to show what the API server measures for a Node webhook whose answer costs
// nothing: the floor under podpattern. Every AdmissionReview is allowed, with no patch.
//
//   node dist/bench/floor-webhook.js CERT KEY HOST PORT [TLS_THREADS]
//
// Prints the port it listens on (PORT 0 picks one), then serves until killed. The port is
// opened with SO_REUSEPORT, so a second process given that port shares it (the kernel spreads
// new connections over the two), as podpattern's two replicas share its Service.
//
// Without TLS_THREADS, one node:https server: each TLS handshake runs on the process's one
// JavaScript thread, before and between the reviews, as in `podpattern serve`. With it, that
// many worker threads each listen on the port and terminate TLS, and pipe each connection's
// plain bytes to an HTTP server on the main thread over a Unix socket: the handshakes run
// beside the reviews instead of in front of them.
import { readFileSync, mkdtempSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

interface Terminator {
  cert: string;
  key: string;
  host: string;
  port: number;
  socketPath: string;
}

const KEEP_ALIVE_TIMEOUT_MS = 120_000; // podpattern's

const answer: RequestListener = (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let uid: unknown;
    try {
      uid = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: unknown } }).request?.uid;
    } catch (error) {
      response.statusCode = 400;
      response.end(String(error));
      return;
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }));
  });
};

const listen = (server: Server, host: string, port: number): Promise<number> =>
  new Promise((resolve) => server.listen({ host, port, reusePort: true }, () => resolve((server.address() as AddressInfo).port)));

/** A worker thread: TLS on `host:port`, each connection piped to the main thread's HTTP server. */
async function terminate({ cert, key, host, port, socketPath }: Terminator): Promise<void> {
  const server = createTlsServer({ cert: readFileSync(cert), key: readFileSync(key) }, (secure) => {
    const plain = connect(socketPath);
    secure.pipe(plain).pipe(secure);
    const close = (): void => void (secure.destroy(), plain.destroy());
    secure.on('error', close).on('close', close);
    plain.on('error', close).on('close', close);
  });
  parentPort?.postMessage(await listen(server, host, port));
}

async function main(): Promise<void> {
  const [cert, key, host, port, threads] = process.argv.slice(2);
  if (cert === undefined || key === undefined || host === undefined || port === undefined) {
    process.stderr.write('usage: node dist/bench/floor-webhook.js CERT KEY HOST PORT [TLS_THREADS]\n');
    process.exit(2);
  }
  const tlsThreads = Number(threads ?? 0);
  if (tlsThreads === 0) {
    const server = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, answer);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    process.stdout.write(`${await listen(server, host, Number(port))}\n`);
    return;
  }
  const plain = createHttpServer(answer);
  plain.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const socketPath = join(mkdtempSync(join(tmpdir(), 'floor-webhook-')), 'http.sock');
  await new Promise<void>((resolve) => plain.listen(socketPath, resolve));
  let shared = Number(port);
  for (let i = 0; i < tlsThreads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { cert, key, host, port: shared, socketPath } satisfies Terminator });
    // The first thread picks the port when PORT is 0; the others share it.
    shared = await new Promise<number>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  }
  process.stdout.write(`${shared}\n`);
}

if (isMainThread) await main();
else await terminate(workerData as Terminator);
