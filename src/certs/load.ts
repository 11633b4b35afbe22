// Reads a serving certificate and key from files and proves they can serve before anyone uses
// them: both parse, the key belongs to the certificate, and the certificate is valid now.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';

export interface CertificatePair {
  certPem: string;
  keyPem: string;
  /** sha256 fingerprint of the leaf: tells a changed certificate from a re-read of the same one. */
  fingerprint: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** The CA(s) that sign clients' certificates (PEM), when a client CA file is configured. */
  clientCaPem?: string;
}

/** Reads and validates the pair; throws an Error whose message says what is wrong with which file. */
export async function loadCertificatePair(
  certFile: string,
  keyFile: string,
  now: Date = new Date(),
  clientCaFile?: string,
): Promise<CertificatePair> {
  // Read together, reported in order: with more than one file missing, the certificate is named
  // first whichever read fails first.
  const reads = await Promise.allSettled([
    readText(certFile, 'certificate'),
    readText(keyFile, 'key'),
    clientCaFile === undefined ? undefined : readText(clientCaFile, 'client CA'),
  ]);
  for (const read of reads) if (read.status === 'rejected') throw read.reason;
  const [certPem, keyPem, clientCaPem] = reads.map((read) => (read as PromiseFulfilledResult<string | undefined>).value) as [
    string,
    string,
    string | undefined,
  ];
  const pair = validateCertificatePair(certPem, keyPem, now, { certFile, keyFile });
  if (clientCaPem === undefined || clientCaFile === undefined) return pair;
  validateClientCa(clientCaPem, clientCaFile);
  return { ...pair, clientCaPem };
}

/** A client CA file holds one or more PEM certificates, each of which parses, and TLS takes them. */
export function validateClientCa(pem: string, file = 'client CA'): void {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${file} holds no PEM certificate: give the CA that signs the API server's client certificate`);
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(`${file}: certificate ${index + 1} does not parse (${(error as Error).message})`);
    }
  }
  try {
    createSecureContext({ ca: pem });
  } catch (error) {
    throw new Error(`TLS refuses ${file} as a CA: ${(error as Error).message}`);
  }
}

export function validateCertificatePair(
  certPem: string,
  keyPem: string,
  now: Date = new Date(),
  files: { certFile: string; keyFile: string } = { certFile: 'certificate', keyFile: 'key' },
): CertificatePair {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem); // the first certificate of a chain is the leaf
  } catch (error) {
    throw new Error(`${files.certFile} is not a PEM certificate (${(error as Error).message})`);
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new Error(`${files.keyFile} is not a PEM private key (${(error as Error).message})`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new Error(
      `${files.keyFile} does not belong to ${files.certFile} (subject ${cert.subject}): install the key made with this certificate`,
    );
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (now < notBefore) throw new Error(`${files.certFile} is not valid before ${notBefore.toISOString()}: check the clock or reissue it`);
  if (now > notAfter) throw new Error(`${files.certFile} expired on ${notAfter.toISOString()}: issue a new certificate`);
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    throw new Error(`TLS refuses ${files.certFile} with ${files.keyFile}: ${(error as Error).message}`);
  }
  return { certPem, keyPem, fingerprint: cert.fingerprint256, subject: cert.subject, notBefore, notAfter };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`the ${what} file ${file} does not exist`);
    throw new Error(`cannot read the ${what} file ${file}: ${(error as Error).message}`);
  }
}
