// `podpattern certs`: a CA and a serving certificate for the webhook's Service, written as
// files, and the caBundle printed. stdout carries only the caBundle, so
// `CA_BUNDLE=$(podpattern certs)` works; everything for people goes to stderr.
// certs/README.md describes leaf and CA rotation with these flags.
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateCertificates } from '../certs/generate.js';

const HELP = `usage: podpattern certs [flags]

Makes a CA and a serving certificate for the webhook Service and prints the
base64 caBundle (and nothing else) on stdout.

Writes, in --out-dir: ca.crt, ca.key, tls.crt, tls.key (keys mode 0600).
The serving certificate names <service>, <service>.<namespace>,
<service>.<namespace>.svc, localhost and 127.0.0.1, plus --dns and --ip.

flags:
  --service NAME      the webhook Service name (default podpattern)
  --namespace NAME    the Service's namespace (default podpattern)
  --out-dir DIR       where to write the files (default certs)
  --ca-cert FILE      sign with this existing CA (leaf rotation; needs --ca-key)
  --ca-key FILE       the existing CA's private key
  --days N            serving certificate lifetime in days (default 365)
  --ca-days N         lifetime of a new CA in days (default 3650)
  --dns NAME          another DNS name for the serving certificate (repeatable)
  --ip ADDRESS        another IP address for the serving certificate (repeatable)
  --also-trust FILE   add these PEM CA certificates to the printed caBundle, so the
                      old and new CA are both trusted during CA rotation (repeatable)
  --force             replace an existing CA in --out-dir
  -h, --help          show this help

See certs/README.md for rotating the serving certificate and the CA without an outage.
`;

interface CertsOptions {
  service: string;
  namespace: string;
  outDir: string;
  caCert?: string;
  caKey?: string;
  days?: number;
  caDays?: number;
  dns: string[];
  ip: string[];
  alsoTrust: string[];
  force: boolean;
}

/** Runs the command; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function run(argv: string[]): Promise<number> {
  let options: CertsOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`podpattern certs: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const caBundle = await writeCertificates(options);
    process.stdout.write(`${caBundle}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`podpattern certs: ${(error as Error).message}\n`);
    return 1;
  }
}

function parseOptions(argv: string[]): CertsOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      service: { type: 'string', default: 'podpattern' },
      namespace: { type: 'string', default: 'podpattern' },
      'out-dir': { type: 'string', default: 'certs' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      days: { type: 'string' },
      'ca-days': { type: 'string' },
      dns: { type: 'string', multiple: true, default: [] },
      ip: { type: 'string', multiple: true, default: [] },
      'also-trust': { type: 'string', multiple: true, default: [] },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const problems: string[] = [];
  if (positionals.length > 0) problems.push(`unexpected argument '${positionals.join(' ')}'`);
  if ((values['ca-cert'] === undefined) !== (values['ca-key'] === undefined)) {
    problems.push('--ca-cert and --ca-key go together: pass both to reuse a CA, or neither to make one');
  }
  const days = parseDays('--days', values.days, problems);
  const caDays = parseDays('--ca-days', values['ca-days'], problems);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return {
    service: values.service,
    namespace: values.namespace,
    outDir: values['out-dir'],
    caCert: values['ca-cert'],
    caKey: values['ca-key'],
    days,
    caDays,
    dns: values.dns,
    ip: values.ip,
    alsoTrust: values['also-trust'],
    force: values.force,
  };
}

function parseDays(flag: string, raw: string | undefined, problems: string[]): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(raw)) {
    problems.push(`${flag} must be a whole number of days of at least 1, not '${raw}'`);
    return undefined;
  }
  return Number(raw);
}

/** Generates and writes the four files; returns the base64 caBundle. */
async function writeCertificates(options: CertsOptions): Promise<string> {
  const reuseCa = options.caCert !== undefined && options.caKey !== undefined;
  const caCertFile = join(options.outDir, 'ca.crt');
  if (!reuseCa && !options.force && existsSync(caCertFile)) {
    // Silently replacing the CA breaks every API server that still trusts the old caBundle.
    throw new Error(
      `${caCertFile} exists: pass --ca-cert ${caCertFile} --ca-key ${join(options.outDir, 'ca.key')} to renew the ` +
        'serving certificate with the same CA, or --force to make a new CA (see certs/README.md for CA rotation)',
    );
  }
  const ca = reuseCa
    ? { certPem: readText(options.caCert as string, '--ca-cert'), keyPem: readText(options.caKey as string, '--ca-key') }
    : undefined;
  const extraCas = options.alsoTrust.map((file) => readCertificates(file));

  const generated = await generateCertificates({
    service: options.service,
    namespace: options.namespace,
    dnsNames: ['localhost', ...options.dns],
    ipAddresses: ['127.0.0.1', ...options.ip],
    ...(options.days !== undefined ? { days: options.days } : {}),
    ...(options.caDays !== undefined ? { caDays: options.caDays } : {}),
    ...(ca !== undefined ? { ca } : {}),
  });

  mkdirSync(options.outDir, { recursive: true });
  writeAtomically(join(options.outDir, 'ca.key'), generated.caKeyPem, 0o600);
  writeAtomically(caCertFile, generated.caCertPem, 0o644);
  writeAtomically(join(options.outDir, 'tls.key'), generated.keyPem, 0o600);
  writeAtomically(join(options.outDir, 'tls.crt'), generated.certPem, 0o644);

  process.stderr.write(
    `podpattern certs: wrote ca.crt, ca.key, tls.crt, tls.key in ${options.outDir}\n` +
      `  ${reuseCa ? 'signed with the existing CA' : 'new CA'}; serving certificate valid until ${generated.notAfter.toISOString()}\n` +
      `  names: ${generated.subjectAltNames.join(', ')}\n` +
      `  caBundle (stdout): ${extraCas.length > 0 ? `this CA plus ${extraCas.length} more from --also-trust` : 'this CA'}\n`,
  );
  const bundle = [generated.caCertPem, ...extraCas].map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
  return Buffer.from(bundle).toString('base64');
}

function readText(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Reads a PEM file that must hold certificates only: it goes into the API server's trust. */
function readCertificates(file: string): string {
  const text = readText(file, '--also-trust');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`--also-trust ${file}: no PEM certificate in it`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new Error(`--also-trust ${file}: not a valid certificate (${(error as Error).message})`);
    }
  }
  return `${blocks.join('\n')}\n`;
}

/** A reader (the server's certificate reloader) never sees a half-written file. */
function writeAtomically(file: string, text: string, mode: number): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, text, { mode });
  chmodSync(partial, mode);
  renameSync(partial, file);
}
