// Hot reload on a real HTTPS server: the Secret volume's ..data link is swapped the way the
// kubelet does it while a client keeps sending reviews, each on a fresh connection.
import t, { type Test } from 'tap';
import { Writable } from 'node:stream';
import { Agent } from 'node:https';
import { pino } from 'pino';
import { CertificateReloader } from '../../src/certs/reloader.js';
import { buildApp } from '../../src/server/app.js';
import { makeCertificates, httpsCall, type HttpsResult } from '../helpers/tls.js';
import { SecretVolume } from '../helpers/secret-volume.js';
import { podReview, testDeps } from '../server/fixtures.js';
import { X509Certificate } from 'node:crypto';

const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function setup(t: Test) {
  const first = await makeCertificates();
  const ca = { certPem: first.caCertPem, keyPem: first.caKeyPem };
  const volume = new SecretVolume({ 'tls.crt': first.certPem, 'tls.key': first.keyPem });
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    new Writable({
      write(chunk, _e, done) {
        logs.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  const reloader = new CertificateReloader({
    certFile: volume.file('tls.crt'),
    keyFile: volume.file('tls.key'),
    logger,
    checkIntervalMs: 3_600_000, // the watch alone must notice the swap
    debounceMs: 50,
  });
  const pair = await reloader.load();
  const app = buildApp({ ...testDeps(), tls: { cert: pair.certPem, key: pair.keyPem } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  reloader.attach(app.server as never);
  reloader.start();
  const port = (app.server.address() as { port: number }).port;
  t.teardown(async () => {
    reloader.stop();
    await app.close();
    volume.remove();
  });
  return { first, ca, volume, logs, reloader, port };
}

/** Sends reviews one after another on fresh connections until stopped; records every result and error. */
function client(port: number, caPem: string) {
  const results: HttpsResult[] = [];
  const errors: Error[] = [];
  let running = true;
  const done = (async () => {
    let i = 0;
    while (running) {
      i += 1;
      try {
        results.push(await httpsCall({ port, ca: caPem, body: JSON.stringify(podReview({ uid: `uid-${i}` })) }));
      } catch (error) {
        errors.push(error as Error);
      }
    }
  })();
  return {
    results,
    errors,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** How long `until` waits for what must happen: generous, since it returns as soon as it holds. */
const WAIT_MS = 60_000;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

t.test('a new pair is picked up by new handshakes; no request fails; old connections live on', async (t) => {
  const { first, ca, volume, port } = await setup(t);
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => keepAlive.destroy());
  const before = await httpsCall({ port, ca: ca.certPem, agent: keepAlive, body: JSON.stringify(podReview()) });
  t.equal(before.fingerprint, fingerprintOf(first.certPem));

  const load = client(port, ca.certPem);
  await until(() => load.results.length >= 20, WAIT_MS);
  const second = await makeCertificates({ ca });
  volume.update({ 'tls.crt': second.certPem, 'tls.key': second.keyPem });
  const swapped = await until(() => load.results.at(-1)?.fingerprint === fingerprintOf(second.certPem), WAIT_MS);
  await until(() => load.results.length >= 40, WAIT_MS);
  await load.stop();

  t.ok(swapped, 'new handshakes present the new certificate');
  t.same(
    load.errors.map((e) => e.message),
    [],
    'no request failed',
  );
  t.ok(
    load.results.every((r) => r.status === 200),
    'every review answered 200',
  );
  const prints = load.results.map((r) => r.fingerprint);
  const firstNew = prints.indexOf(fingerprintOf(second.certPem));
  t.ok(firstNew > 0, 'the old certificate served before the swap');
  t.ok(
    prints.slice(firstNew).every((p) => p === fingerprintOf(second.certPem)),
    'once swapped, never back',
  );

  const after = await httpsCall({ port, ca: ca.certPem, agent: keepAlive, body: JSON.stringify(podReview()) });
  t.equal(after.status, 200, 'the connection opened before the swap still works');
  t.equal(after.fingerprint, fingerprintOf(first.certPem), 'and still on its original session');
});

t.test('a bad new pair keeps the old one serving, and says why', async (t) => {
  const { first, ca, volume, port, logs, reloader } = await setup(t);
  const other = await makeCertificates({ ca });
  const expired = await makeCertificates({ ca, now: new Date(Date.now() - 3 * 86_400_000), days: 1 });
  const bad: [string, Record<string, string>, RegExp][] = [
    ['mismatched key', { 'tls.crt': other.certPem, 'tls.key': first.keyPem }, /does not belong to/],
    ['expired certificate', { 'tls.crt': expired.certPem, 'tls.key': expired.keyPem }, /expired on/],
    ['garbage', { 'tls.crt': 'not a certificate', 'tls.key': 'not a key' }, /not a PEM certificate/],
  ];
  const load = client(port, ca.certPem);
  for (const [name, files, reason] of bad) {
    volume.update(files);
    const logged = await until(() => logs.some((l) => l.msg?.toString().includes('rejected') && reason.test(String(l.reason))), WAIT_MS);
    t.ok(logged, `${name}: rejection logged with its reason`);
    await reloader.check(); // the periodic path agrees
    t.equal(reloader.pair?.fingerprint, fingerprintOf(first.certPem), `${name}: the old pair stays`);
    t.ok(reloader.isReady(), `${name}: still ready`);
  }
  const seen = load.results.length;
  await until(() => load.results.length >= seen + 5, WAIT_MS); // reviews answered after the last bad pair
  await load.stop();
  t.same(
    load.errors.map((e) => e.message),
    [],
  );
  t.ok(load.results.length > 0 && load.results.every((r) => r.status === 200 && r.fingerprint === fingerprintOf(first.certPem)));

  // And a good pair after the bad ones is taken.
  const good = await makeCertificates({ ca });
  volume.update({ 'tls.crt': good.certPem, 'tls.key': good.keyPem });
  t.ok(await until(() => reloader.pair?.fingerprint === fingerprintOf(good.certPem), WAIT_MS), 'recovers with the next good pair');
  const res = await httpsCall({ port, ca: ca.certPem, body: JSON.stringify(podReview()) });
  t.equal(res.fingerprint, fingerprintOf(good.certPem));
  t.ok(logs.some((l) => l.msg === 'TLS certificate reloaded'));
});

t.test('the periodic check alone also reloads (no watch events)', async (t) => {
  const first = await makeCertificates();
  const volume = new SecretVolume({ 'tls.crt': first.certPem, 'tls.key': first.keyPem });
  t.teardown(() => volume.remove());
  const seen: string[] = [];
  const reloader = new CertificateReloader({
    certFile: volume.file('tls.crt'),
    keyFile: volume.file('tls.key'),
    logger: pino({ level: 'silent' }),
    checkIntervalMs: 100,
    onLoaded: (pair) => seen.push(pair.fingerprint),
  });
  await reloader.load();
  const target = {
    contexts: [] as string[],
    setSecureContext(o: { cert: string }) {
      this.contexts.push(o.cert);
    },
  };
  reloader.attach(target);
  reloader.start();
  // Stop the watch to prove the timer does it.
  (reloader as unknown as { watchers: { close(): void }[] }).watchers.forEach((w) => w.close());
  const second = await makeCertificates({ ca: { certPem: first.caCertPem, keyPem: first.caKeyPem } });
  volume.update({ 'tls.crt': second.certPem, 'tls.key': second.keyPem });
  t.ok(await until(() => target.contexts.length === 1, WAIT_MS));
  reloader.stop();
  t.same(target.contexts, [second.certPem]);
  t.same(seen, [fingerprintOf(first.certPem), fingerprintOf(second.certPem)], 'onLoaded reports each pair once (for the expiry metric)');
});
