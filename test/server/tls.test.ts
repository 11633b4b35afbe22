// The HTTPS app on a real socket: TLS with a test CA, keep-alive, transport limits.
import t from 'tap';
import { Agent } from 'node:https';
import { request as httpRequest } from 'node:http';
import { buildApp, BODY_LIMIT_BYTES, KEEP_ALIVE_TIMEOUT_MS } from '../../src/server/app.js';
import { makeCertificates, httpsCall } from '../helpers/tls.js';
import { podReview, testDeps } from './fixtures.js';

t.test('serves /mutate over TLS; reviews share one keep-alive connection', async (t) => {
  const certs = await makeCertificates();
  const app = buildApp({ ...testDeps(), tls: { cert: certs.certPem, key: certs.keyPem } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;

  t.ok(KEEP_ALIVE_TIMEOUT_MS > 90_000, "keep-alive outlasts the API server's 90 s idle timeout");
  t.equal(app.server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
  t.ok(app.server.headersTimeout > 0 && app.server.headersTimeout <= app.server.requestTimeout, 'headers and request timeouts set');
  t.ok(app.server.requestTimeout > 0);

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  agent.on('free', (socket) => sockets.add(socket));
  for (let i = 0; i < 5; i += 1) {
    const res = await httpsCall({
      port,
      ca: certs.caCertPem,
      agent,
      body: JSON.stringify(podReview({ uid: `u${i}`, annotations: { 'podpattern.dev/sidecar': 'demo' } })),
    });
    t.equal(res.status, 200);
    t.equal(JSON.parse(res.body).response.uid, `u${i}`);
    t.equal(res.headers['connection'], 'keep-alive');
  }
  t.equal(sockets.size, 1, 'one connection for all five');

  const big = await httpsCall({ port, ca: certs.caCertPem, body: Buffer.alloc(BODY_LIMIT_BYTES + 10, 0x20) }).catch((e: Error) => e);
  t.ok(!(big instanceof Error) && big.status === 413, 'an oversized body gets 413 over the wire');

  await t.rejects(
    httpsCall({ port, ca: certs.caCertPem, servername: 'evil.example', body: '{}' }),
    /altnames|Hostname/i,
    'the certificate is only for its names',
  );
  const otherCa = await makeCertificates();
  await t.rejects(
    httpsCall({ port, ca: otherCa.caCertPem, body: '{}' }),
    /self.signed|unable to verify|certificate/i,
    'clients trusting another CA refuse it',
  );

  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/mutate', method: 'POST' }, () => resolve('answered'));
    req.on('error', (e) => resolve(e.message));
    req.end('{}');
  });
  t.not(plain, 'answered', 'plain HTTP to the TLS port is not served');
  const still = await httpsCall({ port, ca: certs.caCertPem, body: JSON.stringify(podReview()) });
  t.equal(still.status, 200, 'and the server is unharmed');
});
