// Development certificates, so that `npm start` on a fresh clone serves HTTPS with nothing else.
// Only for the default paths: a path the operator set explicitly must exist, or we stop.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

export interface CertificatePaths {
  certFile: string;
  keyFile: string;
  /** The paths are podpattern's defaults rather than the operator's choice. */
  areDefault: boolean;
}

/**
 * Makes sure the certificate files exist. With default paths and both files absent, generates a
 * development CA and certificate there (and `ca.crt` beside them, for curl --cacert or a caBundle).
 * Otherwise a missing file is an error that says how to fix it.
 */
export async function ensureCertificateFiles(paths: CertificatePaths, logger: Logger): Promise<void> {
  const [haveCert, haveKey] = await Promise.all([exists(paths.certFile), exists(paths.keyFile)]);
  if (haveCert && haveKey) return;
  if (!paths.areDefault || haveCert || haveKey) {
    const missing = [haveCert ? undefined : paths.certFile, haveKey ? undefined : paths.keyFile].filter(Boolean).join(' and ');
    const hint = paths.areDefault
      ? 'delete the remaining file to have a development pair generated, or provide both'
      : "make them with 'podpattern certs', mount the Secret there, or fix --tls-cert-file/--tls-key-file";
    throw new Error(`TLS files missing: ${missing} does not exist; ${hint}`);
  }
  // Loaded only here: a serve with mounted certificates (every deployed one) never needs the
  // generator's X.509 library and the packages it brings, and starts sooner without them
  // (bench/RESULTS.md).
  const { generateCertificates } = await import('./generate.js');
  const generated = await generateCertificates();
  await mkdir(dirname(paths.certFile), { recursive: true });
  await mkdir(dirname(paths.keyFile), { recursive: true });
  const caFile = join(dirname(paths.certFile), 'ca.crt');
  await writeFile(caFile, generated.caCertPem, { mode: 0o644 });
  await writeFile(paths.keyFile, generated.keyPem, { mode: 0o600 });
  await writeFile(paths.certFile, generated.certPem, { mode: 0o644 });
  logger.warn(
    {
      certFile: paths.certFile,
      keyFile: paths.keyFile,
      caFile,
      names: generated.subjectAltNames,
      notAfter: generated.notAfter.toISOString(),
    },
    'generated a development TLS certificate (the defaults were absent); use a real one in a cluster',
  );
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
