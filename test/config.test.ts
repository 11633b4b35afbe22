// Flags, PODPATTERN_* variables, defaults, help, and every problem reported at once.
import t from 'tap';
import { FLAGS, envName, parseConfig } from '../src/config.js';

t.test('defaults', async (t) => {
  const result = parseConfig([], {});
  t.equal(result.kind, 'config');
  if (result.kind !== 'config') return;
  t.same(result.config, {
    host: '0.0.0.0',
    port: 8443,
    healthPort: 8080,
    tlsCertFile: 'certs/tls.crt',
    tlsKeyFile: 'certs/tls.key',
    tlsFilesAreDefault: true,
    certCheckSeconds: 60,
    catalogDir: undefined,
    kubeconfig: undefined,
    liveCatalog: 'auto',
    exitWithParent: 'off',
    nativeSidecars: 'auto',
    failureMode: 'open',
    drainSeconds: 5,
    idleTimeoutSeconds: 125,
    readTimeoutSeconds: 10,
    maxConnections: 0,
    logLevel: 'info',
    clientCaFile: undefined,
    clientAuth: 'none',
    controllers: 'on',
    healGraceSeconds: 60,
    healRestartsPerMinute: 5,
    healIntervalSeconds: 30,
    rollout: 'on',
    rolloutIntervalSeconds: 10,
    memoryTrimSeconds: 1,
  });
});

t.test('client authentication: a client CA turns on events by default; events or required need one', async (t) => {
  const withCa = parseConfig(['--client-ca-file', '/etc/podpattern/client-ca/ca.crt'], {});
  t.match(withCa, { kind: 'config', config: { clientCaFile: '/etc/podpattern/client-ca/ca.crt', clientAuth: 'events' } });
  t.match(parseConfig([], { PODPATTERN_CLIENT_CA_FILE: '/ca.crt', PODPATTERN_CLIENT_AUTH: 'required' }), {
    kind: 'config',
    config: { clientCaFile: '/ca.crt', clientAuth: 'required' },
  });
  t.match(
    parseConfig(['--client-ca-file=/ca.crt', '--client-auth=none'], {}),
    { kind: 'config', config: { clientAuth: 'none' } },
    'a CA can be given and left unused',
  );
  const missing = parseConfig(['--client-auth=required'], {});
  t.equal(missing.kind, 'error');
  if (missing.kind === 'error') t.match(missing.problems, [/--client-auth=required needs --client-ca-file/]);
  t.match(parseConfig(['--client-auth=maybe'], {}), { kind: 'error', problems: [/'maybe' is not one of none, events, required/] });
  const help = parseConfig(['--help'], {});
  if (help.kind === 'help') t.match(help.text, /--client-ca-file=VALUE[\s\S]*PODPATTERN_CLIENT_CA_FILE[\s\S]*--client-auth=VALUE/);
});

t.test('flags in both forms, env equivalents, and flags win', async (t) => {
  const result = parseConfig(['--port=9443', '--failure-mode', 'closed', '--tls-cert-file=/tls/tls.crt'], {
    PODPATTERN_PORT: '1111',
    PODPATTERN_HEALTH_PORT: '9090',
    PODPATTERN_NATIVE_SIDECARS: 'always',
    PODPATTERN_CATALOG_DIR: '/templates',
    PODPATTERN_UPDATE_GOLDEN: '1',
  });
  if (result.kind !== 'config') return t.fail(JSON.stringify(result));
  t.equal(result.config.port, 9443, 'flag beats env');
  t.equal(result.config.healthPort, 9090, 'env used when no flag');
  t.equal(result.config.failureMode, 'closed');
  t.equal(result.config.nativeSidecars, 'always');
  t.equal(result.config.catalogDir, '/templates');
  t.equal(result.config.tlsCertFile, '/tls/tls.crt');
  t.equal(result.config.tlsFilesAreDefault, false, 'an explicit TLS path turns off dev generation');
});

t.test('an explicit TLS path from the environment also counts as explicit', async (t) => {
  const result = parseConfig([], { PODPATTERN_TLS_KEY_FILE: 'certs/tls.key' });
  t.equal(result.kind === 'config' && result.config.tlsFilesAreDefault, false);
});

t.test('every problem at once, with the help text', async (t) => {
  const result = parseConfig(['--port=99999', '--native-sidecars=sometimes', '--nope', 'stray', '--drain-seconds=-1', '--log-level'], {
    PODPATTERN_FAILURE_MODE: 'ajar',
    PODPATTERN_HEALTH_PORT: 'http',
  });
  if (result.kind !== 'error') return t.fail('expected problems');
  t.match(result.problems, [
    /unknown flag --nope/,
    /unexpected argument 'stray'/,
    /--log-level needs a value/,
    /--port: '99999' is not a whole number from 0 to 65535/,
    /PODPATTERN_HEALTH_PORT: 'http' is not a whole number/,
    /--native-sidecars: 'sometimes' is not one of auto, always, never/,
    /PODPATTERN_FAILURE_MODE: 'ajar' is not one of open, closed/,
    /--drain-seconds: '-1' is not a whole number/,
  ]);
  t.equal(result.problems.length, 8);
  t.match(result.text, /usage: podpattern serve/);
});

t.test('same port twice is refused; a repeated flag is refused', async (t) => {
  const result = parseConfig(['--port=8080', '--port', '8080'], {});
  t.equal(result.kind, 'error');
  if (result.kind === 'error') {
    t.match(result.problems.join('\n'), /--port is given more than once/);
    t.match(result.problems.join('\n'), /--port and --health-port are both 8080/);
  }
});

t.test('--help lists every flag with its default and env name', async (t) => {
  const result = parseConfig(['--port=bad', '--help'], {});
  if (result.kind !== 'help') return t.fail('expected help');
  for (const spec of FLAGS) {
    t.match(result.text, `--${spec.flag}=VALUE`);
    t.match(result.text, envName(spec.flag));
    if (spec.default !== undefined) t.match(result.text, `default ${spec.default};`);
  }
  t.equal(envName('tls-cert-file'), 'PODPATTERN_TLS_CERT_FILE');
});

t.test('every documented serve flag is present', async (t) => {
  const flags = FLAGS.map((spec) => spec.flag);
  for (const flag of [
    'port',
    'health-port',
    'tls-cert-file',
    'tls-key-file',
    'catalog-dir',
    'kubeconfig',
    'native-sidecars',
    'failure-mode',
    'drain-seconds',
    'idle-timeout-seconds',
    'read-timeout-seconds',
    'max-connections',
    'log-level',
  ]) {
    t.ok(flags.includes(flag), flag);
  }
});

t.test('config.ts is the only reader of process.env and process.argv in src/main, server, admission, certs, metrics', async (t) => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  const files: string[] = ['src/main.ts'];
  for (const dir of ['src/server', 'src/admission', 'src/certs', 'src/metrics']) {
    for (const name of readdirSync(dir)) if (statSync(join(dir, name)).isFile()) files.push(join(dir, name));
  }
  for (const file of files) t.notMatch(readFileSync(file, 'utf8'), /process\.(env|argv)/, file);
});
