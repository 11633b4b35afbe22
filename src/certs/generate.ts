// Makes a CA and a serving certificate for the webhook (ECDSA P-256, SHA-256).
// Used by `podpattern serve` for development certificates and by `podpattern certs`.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded once
import { X509Certificate as NodeX509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export interface GenerateOptions {
  /** Service name; with `namespace` gives `<service>`, `<service>.<namespace>`, `<service>.<namespace>.svc`. Default `podpattern`. */
  service?: string;
  /** Namespace of the service. Default `podpattern`. */
  namespace?: string;
  /** More DNS names for the serving certificate. Default `['localhost']`; pass `[]` for none. */
  dnsNames?: string[];
  /** IP addresses for the serving certificate. Default `['127.0.0.1']`; pass `[]` for none. */
  ipAddresses?: string[];
  /** Lifetime of the serving certificate in days. Default 365. */
  days?: number;
  /** Sign with this existing CA instead of making one (leaf rotation). Its key may be EC or RSA. */
  ca?: { certPem: string; keyPem: string };
  /** Lifetime of a new CA in days. Default 3650. Ignored when `ca` is given. */
  caDays?: number;
  /** The clock, for tests. Default now. */
  now?: Date;
  /**
   * What the leaf is for: `server` (the default) serves the webhook; `client` authenticates a
   * client to it, as the API server does with the certificate of its AdmissionConfiguration.
   */
  usage?: 'server' | 'client';
}

export interface GeneratedCertificates {
  /** The CA certificate: what goes, base64-encoded, into the webhook's `caBundle`. */
  caCertPem: string;
  /** The CA's PKCS#8 key; when `ca` was given, that key unchanged. */
  caKeyPem: string;
  /** The serving certificate (leaf only). */
  certPem: string;
  /** The serving certificate's PKCS#8 key. */
  keyPem: string;
  /** Every name in the serving certificate's subjectAltName, DNS names first. */
  subjectAltNames: string[];
  notAfter: Date;
}

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_EC = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdating absorbs clock skew between the machine that signs and the cluster. */
const BACKDATE_MS = 5 * 60 * 1000;

/** The serving certificate's DNS names for a service, plus the extra ones. */
export function serviceDnsNames(service: string, namespace: string, extra: readonly string[]): string[] {
  const names = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, ...extra];
  return [...new Set(names)];
}

/**
 * Makes a serving certificate, and a CA to sign it unless `options.ca` is given.
 * Throws with a message saying what to fix when an option is invalid.
 */
export async function generateCertificates(options: GenerateOptions = {}): Promise<GeneratedCertificates> {
  const service = options.service ?? 'podpattern';
  const namespace = options.namespace ?? 'podpattern';
  const dnsNames = serviceDnsNames(service, namespace, options.dnsNames ?? ['localhost']);
  const ipAddresses = options.ipAddresses ?? ['127.0.0.1'];
  const days = options.days ?? 365;
  const caDays = options.caDays ?? 3650;
  const now = options.now ?? new Date();
  checkOptions(dnsNames, ipAddresses, days, caDays);

  const ca = options.ca === undefined ? await createCa(caDays, now) : await importCa(options.ca);
  if (ca.cert.notAfter.getTime() < now.getTime() + days * DAY_MS) {
    // A leaf outliving its CA fails verification on the day the CA expires, with no warning.
    throw new Error(
      `the CA expires on ${ca.cert.notAfter.toISOString()}, before a ${days}-day certificate would: rotate the CA or pass fewer days`,
    );
  }

  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${dnsNames[0] ?? service}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        options.usage === 'client' ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });

  return {
    caCertPem: ca.cert.toString('pem') + '\n',
    caKeyPem: ca.keyPem,
    certPem: cert.toString('pem') + '\n',
    keyPem: await exportKeyPem(keys.privateKey),
    subjectAltNames: [...dnsNames, ...ipAddresses],
    notAfter: cert.notAfter,
  };
}

interface Ca {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  keyPem: string;
  signingAlgorithm: webcrypto.Algorithm;
}

function checkOptions(dnsNames: string[], ipAddresses: string[], days: number, caDays: number): void {
  const problems: string[] = [];
  for (const name of dnsNames) {
    if (!/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)) {
      problems.push(`'${name}' is not a DNS name (lower-case letters, digits, '-' and '.')`);
    }
  }
  for (const ip of ipAddresses) if (isIP(ip) === 0) problems.push(`'${ip}' is not an IPv4 or IPv6 address`);
  for (const [label, value] of [
    ['days', days],
    ['caDays', caDays],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) problems.push(`${label} must be a whole number of at least 1, not ${value}`);
  }
  if (problems.length > 0) throw new Error(`cannot make certificates: ${problems.join('; ')}`);
}

async function createCa(caDays: number, now: Date): Promise<Ca> {
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=podpattern-ca-${now.toISOString().slice(0, 10)}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + caDays * DAY_MS),
    signingAlgorithm: SIGN_EC,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, keyPem: await exportKeyPem(keys.privateKey), signingAlgorithm: SIGN_EC };
}

/** Loads an existing CA. Node reads the key in any PEM form (PKCS#8, SEC1, PKCS#1); WebCrypto needs PKCS#8. */
async function importCa(given: { certPem: string; keyPem: string }): Promise<Ca> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(given.certPem);
  } catch (error) {
    throw new Error(`the CA certificate is not a PEM certificate: ${(error as Error).message}`);
  }
  let nodeKey;
  try {
    nodeKey = createPrivateKey(given.keyPem);
  } catch (error) {
    throw new Error(`the CA key is not a PEM private key: ${(error as Error).message}`);
  }
  const pkcs8 = nodeKey.export({ type: 'pkcs8', format: 'der' });
  let importAlgorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  let signingAlgorithm: webcrypto.Algorithm;
  if (nodeKey.asymmetricKeyType === 'ec') {
    const curve = nodeKey.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (namedCurve === undefined) throw new Error(`the CA key's curve ${String(curve)} is not supported: use P-256 or P-384`);
    importAlgorithm = { name: 'ECDSA', namedCurve };
    signingAlgorithm = { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } as webcrypto.Algorithm;
  } else if (nodeKey.asymmetricKeyType === 'rsa') {
    importAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm;
  } else {
    throw new Error(`the CA key type ${String(nodeKey.asymmetricKeyType)} is not supported: use ECDSA or RSA`);
  }
  if (!new NodeX509Certificate(given.certPem).checkPrivateKey(nodeKey)) {
    throw new Error('the CA key does not belong to the CA certificate');
  }
  const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm, false, ['sign']);
  return { cert, key, keyPem: given.keyPem, signingAlgorithm };
}

async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

/** 16 random bytes with the top bit clear: a positive serial, as RFC 5280 asks. */
function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
