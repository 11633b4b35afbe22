// generateCertificates: a CA and a serving certificate that Node's TLS stack accepts.
import t from 'tap';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { generateCertificates, serviceDnsNames } from '../../src/certs/generate.js';

t.test('defaults: P-256 CA and leaf for the in-cluster service names plus localhost', async (t) => {
  const now = new Date('2026-01-01T00:00:00Z');
  const made = await generateCertificates({ now });
  const ca = new X509Certificate(made.caCertPem);
  const leaf = new X509Certificate(made.certPem);
  t.equal(ca.ca, true);
  t.equal(leaf.ca, false);
  t.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey), 'the CA signed the leaf');
  t.ok(leaf.checkPrivateKey(createPrivateKey(made.keyPem)), 'the key is the leaf key');
  t.ok(ca.checkPrivateKey(createPrivateKey(made.caKeyPem)));
  t.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.equal(
    leaf.subjectAltName,
    'DNS:podpattern, DNS:podpattern.podpattern, DNS:podpattern.podpattern.svc, DNS:localhost, IP Address:127.0.0.1',
  );
  t.same(made.subjectAltNames, ['podpattern', 'podpattern.podpattern', 'podpattern.podpattern.svc', 'localhost', '127.0.0.1']);
  t.equal(leaf.checkHost('podpattern.podpattern.svc'), 'podpattern.podpattern.svc');
  t.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
  t.match(leaf.keyUsage ?? [], ['1.3.6.1.5.5.7.3.1'], 'serverAuth');
  t.equal(new Date(leaf.validTo).getTime(), now.getTime() + 365 * 86_400_000);
  t.equal(new Date(ca.validTo).getTime(), now.getTime() + 3650 * 86_400_000);
  t.ok(new Date(leaf.validFrom) < now, 'backdated for clock skew');
  t.equal(made.notAfter.getTime(), new Date(leaf.validTo).getTime());
});

t.test('custom service, namespace, names and IPs; no localhost when dnsNames is empty', async (t) => {
  const made = await generateCertificates({
    service: 'hook',
    namespace: 'infra',
    dnsNames: [],
    ipAddresses: ['10.0.0.7', '::1'],
    days: 30,
  });
  t.equal(
    new X509Certificate(made.certPem).subjectAltName,
    'DNS:hook, DNS:hook.infra, DNS:hook.infra.svc, IP Address:10.0.0.7, IP Address:0:0:0:0:0:0:0:1',
  );
  t.same(serviceDnsNames('a', 'b', ['a.b.svc', 'x']), ['a', 'a.b', 'a.b.svc', 'x']);
});

t.test('leaf rotation: reuse an existing CA', async (t) => {
  const first = await generateCertificates();
  const second = await generateCertificates({ ca: { certPem: first.caCertPem, keyPem: first.caKeyPem } });
  t.equal(second.caCertPem, first.caCertPem);
  t.equal(second.caKeyPem, first.caKeyPem);
  t.not(second.certPem, first.certPem);
  t.ok(new X509Certificate(second.certPem).verify(new X509Certificate(first.caCertPem).publicKey));

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPem = rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  await t.rejects(generateCertificates({ ca: { certPem: first.caCertPem, keyPem: rsaPem } }), /CA key does not belong/);
});

t.test('refuses bad options, naming every problem', async (t) => {
  await t.rejects(generateCertificates({ dnsNames: ['Bad_Name'], ipAddresses: ['300.1.1.1'], days: 0 }), {
    message: /'Bad_Name' is not a DNS name.*'300\.1\.1\.1' is not an IPv4 or IPv6 address.*days must be a whole number/,
  });
  await t.rejects(generateCertificates({ ca: { certPem: 'nope', keyPem: 'nope' } }), /CA certificate is not a PEM certificate/);
  const short = await generateCertificates({ caDays: 10, days: 1 });
  await t.rejects(
    generateCertificates({ ca: { certPem: short.caCertPem, keyPem: short.caKeyPem }, days: 30 }),
    /CA expires on .* before a 30-day certificate/,
  );
  const other = await generateCertificates();
  await t.rejects(
    generateCertificates({ ca: { certPem: short.caCertPem, keyPem: other.caKeyPem }, days: 1 }),
    /CA key does not belong to the CA certificate/,
  );
});
