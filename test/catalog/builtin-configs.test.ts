// The built-in templates' config files, checked with the real programs that read them: each
// template is injected by the engine with example parameters, the files and volumes of its
// containers are laid out under a temporary root as the kubelet would mount them, and then
// nginx and nutcracker test the configs and actually run: https-proxy terminates TLS with a
// certificate from the "Secret", redis-shard shards keys over two fake Redis servers,
// service-broker listens. test/builtins runs every built-in in a real pod. A program that is not installed skips its
// tests (CI installs them: Debian packages nginx, nutcracker, socat).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { V1Container, V1PodSpec } from '#kube';
import t, { type Test } from 'tap';
import { buildCatalog, loadBuiltinTemplates } from '../../src/catalog/index.js';
import { generateCertificates } from '../../src/certs/generate.js';
import { inject, type PodLike } from '../../src/engine/index.js';

const catalog = buildCatalog([loadBuiltinTemplates()]);

/** Injects one template with these parameters into a one-container pod; fails the test on denial. */
function render(t: Test, pattern: string, template: string, parameters: Record<string, string>): PodLike & { spec: V1PodSpec } {
  const annotations: Record<string, string> = { [`podpattern.dev/${pattern}`]: template };
  for (const [name, value] of Object.entries(parameters)) annotations[`${template}.podpattern.dev/${name}`] = value;
  const pod: PodLike = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'example', namespace: 'default', annotations },
    spec: { containers: [{ name: 'app', image: 'example/app:1.0' }] },
  };
  const result = inject(pod, catalog, { nativeSidecars: 'never' });
  if (result.outcome !== 'injected') throw new Error(`${template} was not injected: ${JSON.stringify(result)}`);
  t.pass(`${template} injects`);
  return result.pod as PodLike & { spec: V1PodSpec };
}

function container(pod: PodLike & { spec: V1PodSpec }, name: string): V1Container {
  const found = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === name);
  if (found === undefined) throw new Error(`no container ${name}`);
  return found;
}

/** What a container sees: its mounts laid out under `root`, and a way to move paths there. */
interface Sandbox {
  root: string;
  /** Rewrites every absolute mount path in `text` to where it lies under `root`. */
  remap(text: string): string;
}

/**
 * Lays out a container's volume mounts under `root` as the kubelet would: downwardAPI items from
 * the pod's annotations, Secret keys from `secrets`, emptyDirs as empty directories (shared by
 * every container that mounts them at the same path, as the templates do).
 */
function materialize(
  pod: PodLike & { spec: V1PodSpec },
  c: V1Container,
  root: string,
  secrets: Record<string, Record<string, string>> = {},
): Sandbox {
  const annotations = pod.metadata?.annotations ?? {};
  const mountPaths: string[] = ['/tmp'];
  mkdirSync(join(root, 'tmp'), { recursive: true });
  for (const mount of c.volumeMounts ?? []) {
    const volume = (pod.spec.volumes ?? []).find((v) => v.name === mount.name);
    if (volume === undefined) throw new Error(`${c.name} mounts missing volume ${mount.name}`);
    const dir = join(root, mount.mountPath);
    mkdirSync(dir, { recursive: true });
    mountPaths.push(mount.mountPath);
    for (const item of volume.downwardAPI?.items ?? []) {
      const key = /^metadata\.annotations\['(.+)'\]$/.exec(item.fieldRef?.fieldPath ?? '')?.[1];
      const text = key === undefined ? undefined : annotations[key];
      if (text === undefined) throw new Error(`downwardAPI item ${item.path} has no annotation`);
      writeFileSync(join(dir, item.path), text);
    }
    if (volume.secret !== undefined) {
      const data = secrets[volume.secret.secretName ?? ''];
      if (data === undefined) throw new Error(`no test Secret named ${volume.secret.secretName}`);
      for (const [file, text] of Object.entries(data)) writeFileSync(join(dir, file), text);
    }
  }
  const sorted = [...new Set(mountPaths)].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`(^|[\\s=])(${sorted.map(escapeRegExp).join('|')})(?=/|\\s|;|$)`, 'gm');
  return { root, remap: (text) => text.replace(pattern, (_m, before: string, path: string) => `${before}${join(root, path)}`) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The program's path, or undefined when it is not installed (sbin is searched too). */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, name)).find((path) => path !== name && existsSync(path));
}

const nginx = findProgram('nginx');
const nutcracker = findProgram('nutcracker');
const socat = findProgram('socat');
const sh = findProgram('sh');
const skipUnless = (program: string | undefined, name: string) => (program === undefined ? { skip: `${name} not installed` } : {});

function sandboxRoot(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), `podpattern-${prefix}-`));
  return root;
}

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a long-running program and stops it when the test ends; its stderr is kept for messages. */
function start(t: Test, program: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; stderr: () => string } {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  return { child, stderr: () => stderr };
}

/** Resolves once something accepts connections on the port (or fails after a few seconds). */
async function waitForPort(port: number, what: () => string): Promise<void> {
  const deadline = Date.now() + 60_000; // generous: a loaded machine starts a program slowly
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function listen(t: Test, server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

/** `nginx -t` on the rendered config, as laid out under the sandbox. */
function nginxTest(t: Test, config: string, root: string): void {
  const result = spawnSync(nginx as string, ['-t', '-q', '-c', config, '-p', `${root}/`, '-e', 'stderr'], {
    encoding: 'utf8',
    // Not a pipe: node's pipes are sockets, and nginx cannot open /dev/stdout on a socket.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.equal(result.status, 0, `nginx -t accepts the config: ${result.stderr}`);
}

/** The nginx command of a container, pointed at the sandbox. */
function nginxArgs(c: V1Container, box: Sandbox): string[] {
  const [, ...args] = (c.command ?? []).map((arg) => box.remap(arg));
  return [...args, '-p', `${box.root}/`];
}

t.test('https-proxy terminates TLS with the Secret and proxies to the app', skipUnless(nginx, 'nginx'), async (t) => {
  const app = createHttpServer((req, res) => {
    res.end(JSON.stringify({ url: req.url, proto: req.headers['x-forwarded-proto'], host: req.headers.host }));
  });
  const upstream = await listen(t, app);
  const listenPort = await freePort();
  const pod = render(t, 'sidecar', 'https-proxy', {
    'tls-secret': 'web-tls',
    'upstream-port': String(upstream),
    'listen-port': String(listenPort),
  });
  const proxy = container(pod, 'https-proxy');
  const certs = await generateCertificates({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const box = materialize(pod, proxy, sandboxRoot('https-proxy'), { 'web-tls': { 'tls.crt': certs.certPem, 'tls.key': certs.keyPem } });
  const config = join(box.root, 'etc/https-proxy/nginx.conf');
  writeFileSync(config, box.remap(readFileSync(config, 'utf8')));
  nginxTest(t, config, box.root);

  const server = start(t, nginx as string, nginxArgs(proxy, box));
  await waitForPort(listenPort, server.stderr);
  const response = await new Promise<{ status: number; body: string; authorized: boolean }>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: listenPort, path: '/hello', ca: certs.caCertPem, servername: 'localhost', agent: false },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, authorized: (res.socket as unknown as { authorized: boolean }).authorized }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.equal(response.status, 200, 'the app answered through the proxy');
  t.ok(response.authorized, 'the certificate served is the one from the Secret (verifies against its CA)');
  t.same(
    JSON.parse(response.body),
    { url: '/hello', proto: 'https', host: '127.0.0.1' },
    'the app sees the request path, the Host and X-Forwarded-Proto: https',
  );
});

// request-splitter runs in a real pod, with a cluster DNS double: test/builtins/request-splitter.test.ts.

/** A stand-in Redis shard: answers +OK to every command and records the keys it was sent. */
function fakeRedis(keys: string[]): ReturnType<typeof createTcpServer> {
  return createTcpServer((socket: Socket) => {
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (parsed === undefined) break;
        buffer = buffer.slice(parsed.length);
        if (parsed.args[1] !== undefined) keys.push(parsed.args[1]);
        socket.write('+OK\r\n');
      }
    });
    socket.on('error', () => socket.destroy());
  });
}

/** One RESP array of bulk strings from the front of `text`, or undefined if it is incomplete. */
function parseCommand(text: string): { args: string[]; length: number } | undefined {
  const header = /^\*(\d+)\r\n/.exec(text);
  if (header === null) return undefined;
  let at = header[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(header[1]); i++) {
    const bulk = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (bulk === null) return undefined;
    const start = at + bulk[0].length;
    const end = start + Number(bulk[1]);
    if (text.length < end + 2) return undefined;
    args.push(text.slice(start, end));
    at = end + 2;
  }
  return { args, length: at };
}

async function redisSet(port: number, keys: string[]): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    let replies = '';
    socket.on('data', (chunk: Buffer) => {
      replies += chunk.toString();
      if (replies.split('\r\n').length - 1 >= keys.length) {
        socket.end();
        if (
          replies
            .split('\r\n')
            .filter((line) => line !== '')
            .every((line) => line === '+OK')
        )
          resolve();
        else reject(new Error(`unexpected replies: ${replies}`));
      }
    });
    socket.on('error', reject);
    for (const key of keys) socket.write(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$1\r\nv\r\n`);
  });
}

t.test(
  'redis-shard builds a twemproxy config that shards keys over the given shards',
  { ...skipUnless(nutcracker, 'nutcracker'), ...skipUnless(sh, 'sh') },
  async (t) => {
    const shardKeys: [string[], string[]] = [[], []];
    const shard0 = await listen(t, fakeRedis(shardKeys[0]));
    const shard1 = await listen(t, fakeRedis(shardKeys[1]));
    const listenPort = await freePort();
    const statsPort = await freePort();
    const pod = render(t, 'ambassador', 'redis-shard', {
      shards: `127.0.0.1:${shard0},127.0.0.1:${shard1}:1`,
      'listen-port': String(listenPort),
      'stats-port': String(statsPort),
    });
    t.same(
      pod.spec.containers[0]?.env,
      [
        { name: 'REDIS_HOST', value: '127.0.0.1' },
        { name: 'REDIS_PORT', value: String(listenPort) },
      ],
      'the app is told where the sharded Redis is',
    );
    const root = sandboxRoot('redis-shard');
    // The init container writes the full config into the emptyDir the proxy then reads.
    const init = container(pod, 'redis-shard-config');
    const initBox = materialize(pod, init, root);
    const [shell, flag, script] = init.command ?? [];
    t.same([shell, flag], ['sh', '-c'], 'the init container runs a shell script');
    const env = Object.fromEntries((init.env ?? []).map((e) => [e.name, e.value ?? '']));
    const built = spawnSync(sh as string, ['-c', initBox.remap(script ?? '')], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
      encoding: 'utf8',
    });
    t.equal(built.status, 0, `the init script succeeds: ${built.stderr}`);
    const proxy = container(pod, 'redis-shard');
    const box = materialize(pod, proxy, root);
    const config = join(root, 'run/redis-shard/nutcracker.yml');
    t.match(
      readFileSync(config, 'utf8'),
      new RegExp(`servers:\\n    - 127\\.0\\.0\\.1:${shard0}:1\\n    - 127\\.0\\.0\\.1:${shard1}:1\\n$`),
      'one server line per shard, weight 1 added where missing',
    );
    const checked = spawnSync(nutcracker as string, ['--test-conf', `--conf-file=${config}`], { encoding: 'utf8' });
    t.equal(checked.status, 0, `nutcracker -t accepts the config: ${checked.stderr}`);

    // The log goes to a file here: under tap, stderr is a socket, which /dev/stderr cannot open.
    const log = join(root, 'nutcracker.log');
    const [program, ...args] = (proxy.command ?? []).map((arg) => (arg === '--output=/dev/stderr' ? `--output=${log}` : box.remap(arg)));
    t.equal(program, 'nutcracker', 'the proxy runs nutcracker');
    start(t, nutcracker as string, args);
    await waitForPort(listenPort, () => (existsSync(log) ? readFileSync(log, 'utf8') : 'no log'));
    const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`);
    await redisSet(listenPort, keys);
    t.equal(shardKeys[0].length + shardKeys[1].length, keys.length, 'every key reached exactly one shard');
    t.ok(shardKeys[0].length > 10 && shardKeys[1].length > 10, `both shards hold keys (${shardKeys[0].length} and ${shardKeys[1].length})`);
    const before = [shardKeys[0].length, shardKeys[1].length];
    await redisSet(listenPort, [keys[0] as string]);
    const again = shardKeys[0].length > (before[0] as number) ? 0 : 1;
    t.ok(
      (again === 0 ? shardKeys[0] : shardKeys[1]).filter((k) => k === keys[0]).length === 2,
      'the same key goes to the same shard again',
    );
  },
);

t.test('service-broker listens on localhost with the rendered socat addresses', skipUnless(socat, 'socat'), async (t) => {
  const listenPort = await freePort();
  const pod = render(t, 'ambassador', 'service-broker', {
    service: 'mysql',
    namespace: 'data',
    port: '3306',
    'listen-port': String(listenPort),
  });
  const broker = container(pod, 'service-broker');
  t.same(
    broker.args,
    ['-d', `TCP-LISTEN:${listenPort},bind=127.0.0.1,fork,reuseaddr`, 'TCP:mysql.data.svc.cluster.local:3306'],
    'relays to <service>.<namespace>.svc.<domain>:<port>',
  );
  t.same(pod.spec.containers[0]?.env, [
    { name: 'BROKER_HOST', value: '127.0.0.1' },
    { name: 'BROKER_PORT', value: String(listenPort) },
  ]);
  // socat parses both addresses at start; the Service name is resolved per connection, so the
  // broker runs here although mysql.data.svc.cluster.local does not resolve.
  const server = start(t, socat as string, broker.args ?? []);
  await waitForPort(listenPort, server.stderr);
  t.equal(server.child.exitCode, null, 'socat is running and listening');
});

// The adapters run podpattern's own `adapter` command (test/builtins runs them in pods): here,
// each parameter reaches its flag.
t.test("the adapters' parameters reach their command lines", async (t) => {
  const cases: [string, Record<string, string>, string[]][] = [
    [
      'redis-slowlog',
      { 'redis-port': '6380', interval: '5', logsize: '64' },
      ['adapter', 'redis-slowlog', '--redis-host=127.0.0.1', '--redis-port=6380', '--interval=5', '--count=64'],
    ],
    [
      'storm-logs',
      { 'ui-port': '8081', window: '10800', 'system-stats': '1' },
      ['adapter', 'storm', '--url=http://127.0.0.1:8081', '--interval=60', '--window=10800', '--system-stats=1'],
    ],
    [
      'log-normalizer',
      { 'log-dir': '/var/log/nginx', files: 'access*.log', format: 'nginx' },
      ['adapter', 'log-normalizer', '--dir=/var/log/podpattern-app', '--files=access*.log', '--format=nginx', '--max-file-mib=64'],
    ],
  ];
  for (const [name, parameters, args] of cases)
    t.same(container(render(t, 'adapter', name, parameters), name).args, args, `${name}: ${args.join(' ')}`);
});

t.test('log-normalizer shares the log volume between the app and the adapter', async (t) => {
  const pod = render(t, 'adapter', 'log-normalizer', { 'log-dir': '/var/log/nginx', files: 'access*.log', format: 'nginx' });
  t.same(
    pod.spec.containers[0]?.volumeMounts,
    [{ name: 'log-normalizer-logs', mountPath: '/var/log/nginx' }],
    'the app writes into the shared volume',
  );
  t.same(
    container(pod, 'log-normalizer').volumeMounts,
    [{ name: 'log-normalizer-logs', mountPath: '/var/log/podpattern-app' }],
    'the adapter reads (and truncates) it at its own mount',
  );
});
