// A pair is only accepted when it can serve: parses, key matches, valid now.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCertificatePair, validateCertificatePair } from '../../src/certs/load.js';
import { makeCertificates } from '../helpers/tls.js';

t.test('a good pair loads with its expiry and fingerprint; a chain file is fine', async (t) => {
  const made = await makeCertificates();
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-load-'));
  writeFileSync(join(dir, 'tls.crt'), made.certPem + made.caCertPem);
  writeFileSync(join(dir, 'tls.key'), made.keyPem);
  const pair = await loadCertificatePair(join(dir, 'tls.crt'), join(dir, 'tls.key'));
  t.equal(pair.notAfter.getTime(), made.notAfter.getTime());
  t.match(pair.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  t.match(pair.subject, 'CN=podpattern');
});

t.test('every way a pair can be bad, each with a reason naming the file', async (t) => {
  const a = await makeCertificates();
  const b = await makeCertificates();
  const now = new Date();
  t.throws(() => validateCertificatePair('garbage', a.keyPem, now), /certificate is not a PEM certificate/);
  t.throws(() => validateCertificatePair(a.certPem, 'garbage', now), /key is not a PEM private key/);
  t.throws(() => validateCertificatePair(a.certPem, b.keyPem, now), /key does not belong to certificate/);
  t.throws(() => validateCertificatePair(a.certPem, a.keyPem, new Date(Date.now() + 400 * 86_400_000)), /expired on/);
  t.throws(() => validateCertificatePair(a.certPem, a.keyPem, new Date(Date.now() - 86_400_000)), /is not valid before/);
  await t.rejects(
    loadCertificatePair('/nonexistent/tls.crt', '/nonexistent/tls.key'),
    /the certificate file \/nonexistent\/tls.crt does not exist/,
  );
});
