// Connection-level attacks on the HTTPS server, over real sockets: TLS connections that never
// send a request, more connections than the server takes, and a sender that trickles a large
// body to hold the body budget. Each is observed by its outcome (the socket closed, a status),
// never by how long it took: the limits are configured small so that the outcomes come soon.
import t from 'tap';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { buildApp, type AppDeps } from '../../src/server/app.js';
import { Connections, defaultMaxConnections } from '../../src/server/connections.js';
import { makeCertificates, httpsCall, type GeneratedCertificates } from '../helpers/tls.js';
import { podReview, testDeps } from './fixtures.js';

let certs: GeneratedCertificates;
t.before(async () => {
  certs = await makeCertificates();
});

async function listening(
  t: { teardown(fn: () => unknown): void },
  deps: Partial<AppDeps>,
  guard: ConstructorParameters<typeof Connections>[1],
): Promise<{ port: number; connections: Connections }> {
  const app = buildApp({ ...testDeps(), tls: { cert: certs.certPem, key: certs.keyPem }, ...deps });
  const connections = new Connections(app.server, guard);
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { port: (app.server.address() as { port: number }).port, connections };
}

/** Resolves when the socket closes, however it ends (events.once would reject on an 'error' first). */
function closed(socket: TLSSocket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** A TLS connection that completes its handshake and then sends nothing. */
async function idleTls(port: number): Promise<TLSSocket> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca: certs.caCertPem, servername: 'localhost' });
  socket.on('error', () => undefined);
  await once(socket, 'secureConnect');
  return socket;
}

t.test('a TLS connection that never sends a request is closed at the idle timeout', async (t) => {
  const { port, connections } = await listening(t, {}, { idleTimeoutMs: 200 });
  const sockets = await Promise.all([idleTls(port), idleTls(port), idleTls(port)]);
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  t.equal(connections.size, 3);
  // Each waits for its close event; tap's timeout is the ceiling.
  await Promise.all(sockets.map((s) => closed(s)));
  t.ok(
    sockets.every((s) => s.destroyed),
    'the server closed all three',
  );
  const res = await httpsCall({ port, ca: certs.caCertPem, body: JSON.stringify(podReview()) });
  t.equal(res.status, 200, 'new connections are served as before');
});

t.test('a connection busy with a review is not closed as idle', async (t) => {
  // The review's body is held back past several idle timeouts, then sent: it is answered.
  const { port } = await listening(t, { limits: { readTimeoutMs: 60_000 } }, { idleTimeoutMs: 100 });
  const socket = await idleTls(port);
  t.teardown(() => socket.destroy());
  const body = JSON.stringify(podReview({ uid: 'held' }));
  socket.write(`POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  // Other connections open and idle out meanwhile: when they are closed, the sweep has run.
  for (let i = 0; i < 3; i += 1) await closed(await idleTls(port));
  t.notOk(socket.destroyed, 'the connection with a request in flight is still open');
  socket.end(body);
  let answer = '';
  socket.on('data', (chunk) => (answer += String(chunk)));
  await closed(socket);
  t.match(answer, /^HTTP\/1\.1 200 /);
  t.match(answer, /"uid":"held"/);
});

t.test('over the connection cap, new connections are refused and the ones held keep working', async (t) => {
  const { port, connections } = await listening(t, {}, { maxConnections: 3 });
  const held = await Promise.all([idleTls(port), idleTls(port), idleTls(port)]);
  t.teardown(() => held.forEach((s) => s.destroy()));
  const extra = tlsConnect({ host: '127.0.0.1', port, ca: certs.caCertPem, servername: 'localhost' });
  let secured = false;
  extra.on('secureConnect', () => (secured = true));
  extra.on('error', () => undefined);
  await closed(extra);
  t.notOk(secured, 'the fourth connection is closed before its handshake');
  t.equal(connections.size, 3);
  t.equal(connections.refused, 1, 'and counted');
  // A held connection still carries a review.
  const socket = held[0];
  const body = JSON.stringify(podReview({ uid: 'held-0' }));
  let answer = '';
  socket.on('data', (chunk) => (answer += String(chunk)));
  socket.end(
    `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
  await closed(socket);
  t.match(answer, /^HTTP\/1\.1 200 [\s\S]*"uid":"held-0"/);
  // Once it is gone, there is room again.
  await t.resolves(
    idleTls(port).then((s) => s.destroy()),
    'a new connection is taken once one has closed',
  );
});

t.test('a sender trickling a large body is cut at the read deadline, and the budget it held goes to the next review', async (t) => {
  const { port } = await listening(t, { bodyBudgetBytes: 256 * 1024, limits: { readTimeoutMs: 200 } }, {});
  // Declares 4 MiB (more than the whole budget, so it is read alone) and sends a byte at a time.
  const trickler = await idleTls(port);
  t.teardown(() => trickler.destroy());
  trickler.write(
    `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n{`,
  );
  let response = '';
  trickler.on('data', (chunk) => (response += String(chunk)));
  const cut = closed(trickler);
  let trickled = 1;
  const timer = setInterval(() => {
    if (trickler.writable) {
      trickler.write(' ');
      trickled += 1;
    }
  }, 20);
  t.teardown(() => clearInterval(timer));
  // A small review on another connection: once answered, the trickler's headers were read first.
  t.equal((await httpsCall({ port, ca: certs.caCertPem, body: JSON.stringify(podReview()) })).status, 200, 'small reviews never wait');
  // A 100 KiB review needs room in the budget the trickler holds.
  const padded = podReview({ uid: 'after-trickle', annotations: { pad: 'x'.repeat(100 * 1024) } });
  const answered = await httpsCall({ port, ca: certs.caCertPem, body: JSON.stringify(padded) });
  t.equal(answered.status, 200, `the 100 KiB review is answered (${answered.body.slice(0, 200)})`);
  t.equal(JSON.parse(answered.body).response.uid, 'after-trickle');
  await cut;
  clearInterval(timer);
  t.match(response, /^HTTP\/1\.1 408 /, 'the trickler got 408 Request Timeout');
  // The deadline is 200 ms at a byte every 20 ms: without one, Node's own request timeout
  // (tens of seconds) would have let it send well over a thousand.
  t.ok(trickled < 1000, `it was cut after ${trickled} bytes`);
});

t.test('the template route is under the same read deadline', async (t) => {
  const { port } = await listening(t, { limits: { readTimeoutMs: 200 } }, {});
  const slow = await idleTls(port);
  t.teardown(() => slow.destroy());
  slow.write('POST /validate-template HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
  let response = '';
  slow.on('data', (chunk) => (response += String(chunk)));
  await closed(slow);
  t.match(response, /^HTTP\/1\.1 408 /);
});

t.test('the default connection cap follows the memory limit', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(defaultMaxConnections(384 * MiB), 153, "2.5 % of the chart's 384Mi at 64 KiB each");
  t.equal(defaultMaxConnections(32 * MiB), 128, 'never fewer than 128');
  t.equal(defaultMaxConnections(undefined), 4096, 'no limit');
});

t.test(
  'closing the server spares a connection that has just come, and a quiet one is ended: the review on the first is answered, not reset',
  async (t) => {
    // Node's server.close() (and Fastify's forceCloseConnections: 'idle') would end every
    // connection with no request parsed yet at once: a review already on its way was reset.
    const app = buildApp({ ...testDeps(), tls: { cert: certs.certPem, key: certs.keyPem } });
    const connections = new Connections(app.server, { closeQuietMs: 60_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const fresh = await idleTls(port);
    t.teardown(() => fresh.destroy());
    const closing = app.close();
    // The listener is closed; the fresh connection is still there and its review is answered.
    const body = JSON.stringify(podReview({ uid: 'just-in-time' }));
    let answer = '';
    fresh.on('data', (chunk) => (answer += String(chunk)));
    fresh.write(
      `POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await closed(fresh);
    t.match(answer, /^HTTP\/1\.1 (200|503) /, 'answered');
    t.match(answer, /connection: close/i, 'and told the connection ends');
    await closing;
    // The server's side of the socket closes after the client saw it close: wait for that, with a ceiling.
    const ceiling = Date.now() + 10_000;
    while (connections.size > 0 && Date.now() < ceiling) await new Promise((resolve) => setTimeout(resolve, 10));
    t.equal(connections.size, 0, 'nothing left open');
  },
);
