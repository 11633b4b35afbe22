// `podpattern certs`: the files form a chain that verifies, with the Service's names, the
// printed caBundle is that CA, leaf rotation keeps the CA, and a CA is never replaced by accident.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { validateCertificatePair } from '../../src/certs/load.js';
import { run } from '../../src/cli/certs.js';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function certs(t: Test, argv: string[]): Promise<Outcome> {
  const out = t.capture(process.stdout, 'write', () => true);
  const err = t.capture(process.stderr, 'write', () => true);
  try {
    const code = await run(argv);
    return {
      code,
      stdout: out
        .args()
        .map((a) => String(a[0]))
        .join(''),
      stderr: err
        .args()
        .map((a) => String(a[0]))
        .join(''),
    };
  } finally {
    // Restore the streams now, so tap's own output is not swallowed.
    out.restore();
    err.restore();
  }
}

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8');

t.test('makes a CA and a serving certificate that verify, with the service names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-certs-'));
  const result = await certs(t, [
    '--service',
    'pp',
    '--namespace',
    'hooks',
    '--out-dir',
    dir,
    '--dns',
    'pp.example.com',
    '--ip',
    '10.0.0.7',
  ]);
  t.equal(result.code, 0, result.stderr);

  const ca = new X509Certificate(read(dir, 'ca.crt'));
  const leaf = new X509Certificate(read(dir, 'tls.crt'));
  t.ok(ca.ca, 'ca.crt is a CA certificate');
  t.ok(ca.verify(ca.publicKey), 'the CA is self-signed');
  t.ok(leaf.checkIssued(ca), 'tls.crt names the CA as issuer');
  t.ok(leaf.verify(ca.publicKey), "tls.crt carries the CA's signature");
  t.notOk(leaf.ca, 'the serving certificate is not a CA');
  t.ok(leaf.checkPrivateKey(createPrivateKey(read(dir, 'tls.key'))), 'tls.key belongs to tls.crt');
  t.ok(ca.checkPrivateKey(createPrivateKey(read(dir, 'ca.key'))), 'ca.key belongs to ca.crt');
  t.doesNotThrow(
    () => validateCertificatePair(read(dir, 'tls.crt'), read(dir, 'tls.key')),
    'the server accepts the pair (src/certs/load.ts)',
  );

  for (const host of ['pp', 'pp.hooks', 'pp.hooks.svc', 'localhost', 'pp.example.com']) {
    t.equal(leaf.checkHost(host), host, `serves ${host}`);
  }
  t.notOk(leaf.checkHost('other.hooks.svc'), 'serves no other name');
  for (const ip of ['127.0.0.1', '10.0.0.7']) t.equal(leaf.checkIP(ip), ip, `serves ${ip}`);

  for (const key of ['ca.key', 'tls.key']) t.equal(statSync(join(dir, key)).mode & 0o777, 0o600, `${key} is 0600`);
  t.equal(result.stdout.trim(), Buffer.from(read(dir, 'ca.crt')).toString('base64'), 'stdout is exactly the base64 caBundle');
  t.match(result.stderr, /pp\.hooks\.svc/, 'stderr lists the names');
});

t.test('reuses a CA for leaf rotation, so the caBundle does not change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-certs-'));
  const first = await certs(t, ['--out-dir', dir]);
  t.equal(first.code, 0, first.stderr);
  const firstLeaf = read(dir, 'tls.crt');

  const refused = await certs(t, ['--out-dir', dir]);
  t.equal(refused.code, 1, 'a second run without the CA flags fails');
  t.match(refused.stderr, /ca\.crt exists: pass --ca-cert .* --force/, 'and says how to rotate or replace');
  t.equal(read(dir, 'tls.crt'), firstLeaf, 'and writes nothing');

  const rotated = await certs(t, ['--out-dir', dir, '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key'), '--days', '30']);
  t.equal(rotated.code, 0, rotated.stderr);
  t.equal(rotated.stdout, first.stdout, 'same caBundle');
  const leaf = new X509Certificate(read(dir, 'tls.crt'));
  t.not(leaf.serialNumber, new X509Certificate(firstLeaf).serialNumber, 'a new serving certificate');
  t.ok(leaf.verify(new X509Certificate(read(dir, 'ca.crt')).publicKey), 'signed by the same CA');
  const days = (Date.parse(leaf.validTo) - Date.now()) / 86_400_000;
  t.ok(days > 29 && days <= 30.01, `valid for 30 days (${days.toFixed(2)})`);
});

t.test('--also-trust puts the old CA in the caBundle for CA rotation with overlap', async (t) => {
  const oldDir = mkdtempSync(join(tmpdir(), 'podpattern-certs-old-'));
  const newDir = mkdtempSync(join(tmpdir(), 'podpattern-certs-new-'));
  t.equal((await certs(t, ['--out-dir', oldDir])).code, 0);
  const result = await certs(t, ['--out-dir', newDir, '--also-trust', join(oldDir, 'ca.crt')]);
  t.equal(result.code, 0, result.stderr);
  const bundle = Buffer.from(result.stdout.trim(), 'base64').toString('utf8');
  const pems = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  t.equal(pems.length, 2, 'two CAs in the bundle');
  t.equal(
    new X509Certificate(pems[0] as string).fingerprint256,
    new X509Certificate(read(newDir, 'ca.crt')).fingerprint256,
    'the new CA first',
  );
  t.equal(
    new X509Certificate(pems[1] as string).fingerprint256,
    new X509Certificate(read(oldDir, 'ca.crt')).fingerprint256,
    'then the old one',
  );

  const junk = join(newDir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  const refused = await certs(t, ['--out-dir', newDir, '--force', '--also-trust', junk]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /--also-trust .*junk\.pem: no PEM certificate/);
});

t.test('bad usage is refused with exit code 2 and says what was wrong', async (t) => {
  const onlyCert = await certs(t, ['--ca-cert', 'x.crt']);
  t.equal(onlyCert.code, 2);
  t.match(onlyCert.stderr, /--ca-cert and --ca-key go together/);
  const days = await certs(t, ['--days', '0', '--ca-days', 'ten']);
  t.equal(days.code, 2);
  t.match(days.stderr, /--days must be a whole number .* not '0'.*--ca-days must be a whole number .* not 'ten'/);
  const unknown = await certs(t, ['--bogus']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /bogus/);
  const badDns = await certs(t, ['--out-dir', mkdtempSync(join(tmpdir(), 'podpattern-certs-')), '--dns', 'Not_A_Name']);
  t.equal(badDns.code, 1);
  t.match(badDns.stderr, /'Not_A_Name' is not a DNS name/);
});

t.test('--help lists every flag', async (t) => {
  const result = await certs(t, ['--help']);
  t.equal(result.code, 0);
  for (const flag of [
    '--service',
    '--namespace',
    '--out-dir',
    '--ca-cert',
    '--ca-key',
    '--days',
    '--ca-days',
    '--dns',
    '--ip',
    '--also-trust',
    '--force',
  ]) {
    t.match(result.stdout, flag);
  }
});
