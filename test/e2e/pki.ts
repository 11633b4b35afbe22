// Certificates for the e2e cluster, made with the openssl CLI: one CA that signs the
// apiserver's serving certificate (for the node address, the `kubernetes` Service's ClusterIP
// and its DNS names, as in-cluster clients dial them), the client certificates of the admin,
// kube-controller-manager and kube-scheduler (the identities Kubernetes' default RBAC binds),
// plus the service-account key pair. podpattern's own serving certificate is not made here:
// the chart makes it, as in a real install.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertPair {
  cert: string; // path to PEM certificate
  key: string; // path to PEM private key
}

export interface Pki {
  ca: CertPair;
  apiserver: CertPair;
  admin: CertPair;
  controllerManager: CertPair;
  scheduler: CertPair;
  serviceAccount: { publicKey: string; privateKey: string };
  /** The CA certificate, base64 of the PEM: a webhook's `caBundle`. */
  caBundle: string;
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string): CertPair {
  const pair = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=podpattern-e2e-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
  ]);
  return pair;
}

interface LeafOptions {
  name: string;
  subject: string;
  usage: 'serverAuth' | 'clientAuth';
  sans?: string[]; // e.g. 'IP:127.0.0.1', 'DNS:localhost'
}

function makeLeaf(dir: string, ca: CertPair, options: LeafOptions): CertPair {
  const pair = { cert: join(dir, `${options.name}.crt`), key: join(dir, `${options.name}.key`) };
  const csr = join(dir, `${options.name}.csr`);
  const ext = join(dir, `${options.name}.ext`);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${options.usage}`,
  ];
  if (options.sans !== undefined) lines.push(`subjectAltName=${options.sans.join(',')}`);
  writeFileSync(ext, `${lines.join('\n')}\n`);
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', options.subject, '-keyout', pair.key, '-out', csr]);
  openssl([
    'x509',
    '-req',
    '-sha256',
    '-days',
    '2',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-extfile',
    ext,
    '-out',
    pair.cert,
  ]);
  return pair;
}

export function makePki(dir: string, apiserverIps: readonly string[]): Pki {
  const ca = makeCa(dir);
  const apiserver = makeLeaf(dir, ca, {
    name: 'apiserver',
    subject: '/CN=kube-apiserver',
    usage: 'serverAuth',
    sans: [
      ...apiserverIps.map((ip) => `IP:${ip}`),
      'IP:127.0.0.1',
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
  });
  // O=system:masters makes this identity cluster-admin under RBAC without any binding.
  const admin = makeLeaf(dir, ca, { name: 'admin', subject: '/O=system:masters/CN=podpattern-e2e-admin', usage: 'clientAuth' });
  // The user names Kubernetes' bootstrap RBAC binds to the system:kube-controller-manager and
  // system:kube-scheduler roles.
  const controllerManager = makeLeaf(dir, ca, {
    name: 'kube-controller-manager',
    subject: '/CN=system:kube-controller-manager',
    usage: 'clientAuth',
  });
  const scheduler = makeLeaf(dir, ca, { name: 'kube-scheduler', subject: '/CN=system:kube-scheduler', usage: 'clientAuth' });
  const serviceAccount = { privateKey: join(dir, 'sa.key'), publicKey: join(dir, 'sa.pub') };
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', serviceAccount.privateKey]);
  openssl(['pkey', '-in', serviceAccount.privateKey, '-pubout', '-out', serviceAccount.publicKey]);
  const caBundle = Buffer.from(readFileSync(ca.cert)).toString('base64');
  return { ca, apiserver, admin, controllerManager, scheduler, serviceAccount, caBundle };
}

/**
 * A client certificate that authenticates as a service account: RBAC matches a ServiceAccount
 * subject by the user name system:serviceaccount:<namespace>:<name>, so the server can run
 * with exactly the permissions the chart grants.
 */
export function makeServiceAccountClient(dir: string, ca: CertPair, namespace: string, name: string): CertPair {
  return makeLeaf(dir, ca, {
    name: `sa-${namespace}-${name}`,
    subject: `/O=system:serviceaccounts/O=system:serviceaccounts:${namespace}/CN=system:serviceaccount:${namespace}:${name}`,
    usage: 'clientAuth',
  });
}

/** A serving certificate for `ips`, signed by the cluster CA (a test webhook's, say). */
export function makeServingCert(dir: string, ca: CertPair, name: string, ips: readonly string[]): CertPair {
  return makeLeaf(dir, ca, { name, subject: `/CN=${name}`, usage: 'serverAuth', sans: ips.map((ip) => `IP:${ip}`) });
}
