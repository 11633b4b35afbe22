// Client authentication of the API server: with a client CA, the HTTPS server asks for a client
// certificate, and only a review from a client whose certificate that CA signed writes an Event.
// Real HTTPS on port 0, the real recorder and Event writer, and a fake API server that records
// the Events it is sent.
import { KubeConfig } from '#kube';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { generateCertificates } from '../../src/certs/generate.js';
import { CertificateReloader } from '../../src/certs/reloader.js';
import { kubeEventWriter } from '../../src/events/kube-writer.js';
import { EventRecorder } from '../../src/events/recorder.js';
import { buildApp, type AppDeps } from '../../src/server/app.js';
import { startFakeKube } from '../helpers/fake-apiserver.js';
import { SecretVolume } from '../helpers/secret-volume.js';
import { httpsCall, makeCertificates } from '../helpers/tls.js';
import { podReview, testDeps } from './fixtures.js';

async function setup(t: Test, clientAuth: AppDeps['clientAuth']) {
  const serving = await makeCertificates();
  const apiServerCa = await makeCertificates();
  const apiServer = await generateCertificates({
    ca: { certPem: apiServerCa.caCertPem, keyPem: apiServerCa.caKeyPem },
    usage: 'client',
    dnsNames: [],
    ipAddresses: [],
  });
  const stranger = await makeCertificates({ usage: 'client' });
  const kube = await startFakeKube();
  t.teardown(() => kube.close());
  kube.routes.set('POST /api/v1/namespaces/kube-system/events', (body) => [201, body]);
  const config = new KubeConfig();
  config.loadFromFile(kube.kubeconfig);
  const events = new EventRecorder({ writer: kubeEventWriter(config, 'podpattern-0'), logger: pino({ level: 'silent' }) });
  const app = buildApp({
    ...testDeps({ events }),
    clientAuth,
    tls: { cert: serving.certPem, key: serving.keyPem, clientCa: apiServerCa.caCertPem },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const forged = podReview({
    annotations: { 'podpattern.dev/sidecar': 'nope' },
    generateName: 'click-evil-example-',
    namespace: 'kube-system',
  });
  const send = (client?: { certPem: string; keyPem: string }) =>
    httpsCall({
      port,
      ca: serving.caCertPem,
      body: JSON.stringify(forged),
      ...(client === undefined ? {} : { cert: client.certPem, key: client.keyPem }),
    });
  return { kube, events, send, apiServer, stranger };
}

t.test("client-auth=events: every review is answered; only the API server's writes an Event", async (t) => {
  const { kube, events, send, apiServer, stranger } = await setup(t, 'events');
  const anonymous = await send();
  t.equal(anonymous.status, 200, 'a client without a certificate is answered');
  t.equal(JSON.parse(anonymous.body).response.allowed, false, 'with the decision');
  const strange = await send(stranger);
  t.equal(strange.status, 200, 'a certificate from another CA is answered too');
  await events.idle();
  t.equal(kube.requests.length, 0, 'neither wrote an Event');
  const authenticated = await send(apiServer);
  t.equal(authenticated.status, 200);
  await events.idle();
  t.equal(kube.requests.length, 1, "the API server's review wrote one Event");
  t.match(kube.requests[0], {
    method: 'POST',
    url: '/api/v1/namespaces/kube-system/events',
    body: { reason: 'Denied', message: /^podpattern denied a pod \(unknown-template\): [^\n]+\n/ },
  });
});

t.test('client-auth=required: a client without a verified certificate gets a 403, and no Event', async (t) => {
  const { kube, events, send, apiServer, stranger } = await setup(t, 'required');
  const anonymous = await send();
  t.equal(anonymous.status, 403);
  t.match(JSON.parse(anonymous.body), { code: 'client-not-authenticated' });
  t.equal((await send(stranger)).status, 403, "another CA's certificate too");
  const authenticated = await send(apiServer);
  t.equal(authenticated.status, 200);
  await events.idle();
  t.equal(kube.requests.length, 1, 'one Event, from the authenticated review');
});

t.test('client-auth=none (no client CA): Events as before, for every review', async (t) => {
  const serving = await makeCertificates();
  const recorded: unknown[] = [];
  const app = buildApp({
    ...testDeps({ events: { record: (event) => recorded.push(event) } }),
    tls: { cert: serving.certPem, key: serving.keyPem },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as { port: number }).port;
  const res = await httpsCall({
    port,
    ca: serving.caCertPem,
    body: JSON.stringify(podReview({ annotations: { 'podpattern.dev/sidecar': 'nope' } })),
  });
  t.equal(res.status, 200);
  t.equal(recorded.length, 1);
});

t.test('the client CA is reloaded with the serving pair, and a serving rotation keeps it', async (t) => {
  const serving = await makeCertificates();
  const firstCa = await makeCertificates();
  const secondCa = await makeCertificates();
  const clientOf = (ca: { caCertPem: string; caKeyPem: string }) =>
    generateCertificates({ ca: { certPem: ca.caCertPem, keyPem: ca.caKeyPem }, usage: 'client', dnsNames: [], ipAddresses: [] });
  const [firstClient, secondClient] = await Promise.all([clientOf(firstCa), clientOf(secondCa)]);
  const volume = new SecretVolume({ 'tls.crt': serving.certPem, 'tls.key': serving.keyPem, 'client-ca.crt': firstCa.caCertPem });
  const reloader = new CertificateReloader({
    certFile: volume.file('tls.crt'),
    keyFile: volume.file('tls.key'),
    clientCaFile: volume.file('client-ca.crt'),
    logger: pino({ level: 'silent' }),
    checkIntervalMs: 3_600_000,
  });
  const pair = await reloader.load();
  t.equal(pair.clientCaPem, firstCa.caCertPem, 'the client CA is read with the pair');
  const recorded: unknown[] = [];
  const app = buildApp({
    ...testDeps({ events: { record: (event) => recorded.push(event) } }),
    clientAuth: 'required',
    tls: { cert: pair.certPem, key: pair.keyPem, clientCa: pair.clientCaPem },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  reloader.attach(app.server as never);
  t.teardown(async () => {
    await app.close();
    volume.remove();
  });
  const port = (app.server.address() as { port: number }).port;
  const send = (client: { certPem: string; keyPem: string }, ca = serving.caCertPem) =>
    httpsCall({ port, ca, cert: client.certPem, key: client.keyPem, body: JSON.stringify(podReview()) }).then((res) => res.status);

  t.equal(await send(firstClient), 200);
  t.equal(await send(secondClient), 403);
  const rotated = await makeCertificates({ ca: { certPem: serving.caCertPem, keyPem: serving.caKeyPem } });
  volume.update({ 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem, 'client-ca.crt': firstCa.caCertPem });
  await reloader.check();
  t.equal(await send(firstClient), 200, 'after a serving-certificate rotation the client CA still verifies');
  volume.update({ 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem, 'client-ca.crt': secondCa.caCertPem });
  await reloader.check();
  t.equal(await send(secondClient), 200, 'a new client CA is taken without a restart');
  t.equal(await send(firstClient), 403, 'and the old one is no longer trusted');
  volume.update({ 'tls.crt': rotated.certPem, 'tls.key': rotated.keyPem, 'client-ca.crt': 'not a certificate' });
  await reloader.check();
  t.equal(await send(secondClient), 200, 'a bad client CA file keeps the previous one');
});
