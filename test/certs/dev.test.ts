// Development certificates are generated only for the default paths, and only when both are absent.
import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ensureCertificateFiles } from '../../src/certs/dev.js';
import { loadCertificatePair } from '../../src/certs/load.js';

const logger = pino({ level: 'silent' });
const fresh = () => mkdtempSync(join(tmpdir(), 'podpattern-dev-'));

t.test('default paths, both absent: a pair and ca.crt are generated and load', async (t) => {
  const dir = join(fresh(), 'certs');
  const paths = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), areDefault: true };
  await ensureCertificateFiles(paths, logger);
  const pair = await loadCertificatePair(paths.certFile, paths.keyFile);
  t.ok(pair.notAfter > new Date());
  t.ok(existsSync(join(dir, 'ca.crt')));
  t.equal(statSync(paths.keyFile).mode & 0o777, 0o600, 'the key is private');
  const before = readFileSync(paths.certFile, 'utf8');
  await ensureCertificateFiles(paths, logger);
  t.equal(readFileSync(paths.certFile, 'utf8'), before, 'existing files are left alone');
});

t.test('explicit paths that are absent: a clear error, nothing written', async (t) => {
  const dir = fresh();
  const paths = { certFile: join(dir, 'x.crt'), keyFile: join(dir, 'x.key'), areDefault: false };
  await t.rejects(
    ensureCertificateFiles(paths, logger),
    /TLS files missing: .*x\.crt and .*x\.key does not exist; make them with 'podpattern certs'/,
  );
  t.notOk(existsSync(paths.certFile));
});

t.test('default paths with only one file: refuse rather than overwrite', async (t) => {
  const dir = fresh();
  writeFileSync(join(dir, 'tls.crt'), 'something');
  const paths = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), areDefault: true };
  await t.rejects(ensureCertificateFiles(paths, logger), /tls\.key does not exist; delete the remaining file/);
  t.equal(readFileSync(paths.certFile, 'utf8'), 'something');
});
