// The built-ins themselves in workloads: each built-in template injected by podpattern into a
// Deployment's pod (with a small app where the pattern needs one), the pod run by the node agent
// through the pod runner (node-podrunner.ts: the Debian programs that stand in for the templates'
// images, each as the first process of its own pid namespace, and podpattern's adapters from
// this checkout's build), Ready as the API server stores it, serving (a request through it from
// outside the pod, or the adapter's output), then the Deployment deleted: the pod is gone and
// every container ended on its stop signal before the grace period was over, no SIGKILL.
//
// Where the API server has native sidecars (every release the chart admits: on by default since
// 1.29), ambassadors and proxies are init containers with restartPolicy Always, so the app starts
// after them and never restarts for want of them; where the stored pod has them as ordinary
// containers, only what that order guarantees is asserted (Ready, serving, stopped cleanly).
//
// git-sync is not run: it has no Debian package, so the pod runner has no program that stands for
// its image, and its pod stays Pending as on a node that cannot pull it (test/builtins/git-sync
// checks it against git-sync's documented interface).
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { get } from 'node:http';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { TEN_MINUTE_STATS, TOPOLOGY_ID, TOPOLOGY_SUMMARY, topologyDetail } from '../helpers/storm-ui.js';
import { httpsCall, makeCertificates } from '../helpers/tls.js';
import {
  NGINX_ACCESS_LOG_CONF,
  nginxAccessLogApp,
  relayApp,
  restrictedApp,
  roundTrip,
  untilStopped,
  usesAtBoot,
} from '../podrunner/builtin.js';
import { eventually } from './kube.js';
import { missingFromPod, type Json } from './pods.js';
import type { Context } from './suite.js';
import { neverReadyAmbassador } from './suite-builtins-bad.js';

const run = promisify(execFile);

interface Serving {
  ip: string;
  logs(container: string): string;
}

interface BuiltinCase {
  template: string;
  parameters: Record<string, string>;
  containers: Json[];
  volumes?: Json[];
  securityContext?: Json;
  /** Secrets and ConfigMaps the pod needs, created in its namespace first. */
  objects?: (namespace: string) => Promise<Json[]>;
  /** Containers the app needs before it starts (it connects to them at boot). */
  startsBefore?: string[];
  /** Checks the built-in at work; returns what it saw, for the log. */
  serve(t: Test, pod: Serving): Promise<string>;
}

const busyboxServer = (name: string, address: string, body: string): Json => ({
  name,
  image: 'busybox:1.37.0',
  securityContext: restrictedApp,
  volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
  command: [
    'sh',
    '-c',
    `mkdir -p /tmp/${name} && echo ${body} > /tmp/${name}/index.html && ${untilStopped(`httpd -f -p ${address} -h /tmp/${name}`)}`,
  ],
  readinessProbe: { exec: { command: ['wget', '-q', '-O', '/dev/null', `http://${address}/`] }, periodSeconds: 1 },
});
const redis = (name: string, args: string[]): Json => ({
  name,
  image: 'redis:7.2.4',
  args: ['redis-server', '--save', '', '--appendonly', 'no', ...args],
  securityContext: { ...restrictedApp, runAsUser: 999, runAsGroup: 999 },
  readinessProbe: {
    exec: { command: ['redis-cli', ...(args.includes('--port') ? ['-p', args[args.indexOf('--port') + 1]!] : []), 'ping'] },
    periodSeconds: 1,
  },
});
const scratch = [{ name: 'scratch', emptyDir: {} }];

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const jsonLines = (text: string): Json[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Json);

async function redisCli(host: string, port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', host, '-p', String(port), ...command])).stdout.trim();
}

/** Storm UI's REST API as files busybox httpd serves. */
const STORM_UI = {
  summary: JSON.stringify({ topologies: [TOPOLOGY_SUMMARY] }),
  topology: JSON.stringify(topologyDetail([TEN_MINUTE_STATS])),
};

const CASES: BuiltinCase[] = [
  {
    template: 'https-proxy',
    parameters: { 'tls-secret': 'web-tls', 'upstream-port': '8080' },
    containers: [busyboxServer('app', '127.0.0.1:8080', 'legacy-app')],
    volumes: scratch,
    objects: async (namespace) => {
      const certs = await makeCertificates({ dnsNames: ['legacy-web.default.svc'] });
      httpsCase.certs = certs;
      return [
        {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'kubernetes.io/tls',
          metadata: { name: 'web-tls', namespace },
          stringData: { 'tls.crt': certs.certPem, 'tls.key': certs.keyPem },
        },
      ];
    },
    serve: async (t, pod) => {
      const certs = httpsCase.certs!;
      const response = await eventually(
        'HTTPS on the pod IP',
        async () =>
          httpsCall({ host: pod.ip, port: 8443, path: '/', method: 'GET', ca: certs.caCertPem, servername: 'legacy-web.default.svc' }),
        60_000,
      );
      t.equal(response.status, 200, 'HTTPS answered on the pod IP');
      t.equal(response.body.trim(), 'legacy-app', 'by the app behind the proxy');
      t.equal(response.fingerprint, new X509Certificate(certs.certPem).fingerprint256, "with the Secret's certificate");
      return `HTTPS ${response.status} from the app through nginx`;
    },
  },
  {
    template: 'request-splitter',
    // Addresses, not names: the pod has no cluster DNS, and nginx needs no resolver for an address.
    parameters: {
      production: '127.0.0.1',
      'production-port': '9001',
      experiment: '127.0.0.1',
      'experiment-port': '9002',
      'experiment-percent': '50',
      resolver: 'localhost',
    },
    containers: [
      {
        name: 'app',
        image: 'alpine/socat:1.8.0.3',
        command: ['sh', '-c', usesAtBoot('127.0.0.1:8090', 'socat TCP-LISTEN:8080,fork,reuseaddr TCP:127.0.0.1:8090')],
        securityContext: restrictedApp,
        ports: [{ containerPort: 8080 }],
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
      },
      busyboxServer('production', '127.0.0.1:9001', 'production'),
      busyboxServer('experiment', '127.0.0.1:9002', 'experiment'),
    ],
    volumes: scratch,
    startsBefore: ['request-splitter'],
    serve: async (t, pod) => {
      const sides: Record<string, string> = {};
      for (let user = 1; user <= 40; user++) {
        const address = `192.0.2.${user}`;
        const first = await eventually(
          `a split answer for ${address}`,
          async () => {
            const reply = await httpGet(`http://${pod.ip}:8080/`, { 'X-Forwarded-For': address });
            return reply.status === 200 ? reply.body.trim() : undefined;
          },
          60_000,
        );
        const again = (await httpGet(`http://${pod.ip}:8080/`, { 'X-Forwarded-For': address })).body.trim();
        if (again !== first) t.fail(`user ${address} went to ${first}, then to ${again}`);
        sides[address] = first;
      }
      const counts = Object.values(sides).reduce<Record<string, number>>((all, side) => ({ ...all, [side]: (all[side] ?? 0) + 1 }), {});
      t.same(
        Object.keys(counts).sort(),
        ['experiment', 'production'],
        `40 users split over both backends (${JSON.stringify(counts)}), each kept on one side`,
      );
      return `40 users: ${JSON.stringify(counts)}`;
    },
  },
  {
    template: 'redis-shard',
    parameters: { shards: 'localhost:7001,localhost:7002' },
    containers: [
      relayApp('REDIS', 6390),
      redis('shard-0', ['--port', '7001', '--protected-mode', 'no']),
      redis('shard-1', ['--port', '7002', '--protected-mode', 'no']),
    ],
    startsBefore: ['redis-shard'],
    serve: async (t, pod) => {
      // twemproxy retries a shard it could not reach after server_retry_timeout.
      await eventually(
        'a write through the proxy',
        async () => ((await redisCli(pod.ip, 6390, 'SET', 'probe', '1')) === 'OK' ? true : undefined),
        60_000,
      );
      const replies = new Set<string>();
      for (let i = 0; i < 40; i++) replies.add(await redisCli(pod.ip, 6390, 'SET', `user:${i}`, `value-${i}`));
      t.same([...replies], ['OK'], '40 SETs through the proxy answered OK');
      t.equal(await redisCli(pod.ip, 6390, 'GET', 'user:17'), 'value-17', 'and read back through it');
      const counts = await Promise.all([7001, 7002].map(async (port) => Number(await redisCli(pod.ip, port, 'DBSIZE'))));
      t.equal(counts[0]! + counts[1]!, 41, `every key on exactly one shard (${counts.join(' + ')})`);
      t.ok(
        counts.every((n) => n > 0),
        'both shards hold keys',
      );
      return `keys per shard ${counts.join(', ')}`;
    },
  },
  {
    template: 'service-broker',
    parameters: { service: 'mysql', namespace: 'data', port: '13306', 'listen-port': '3306' },
    containers: [relayApp('BROKER', 8080)],
    startsBefore: ['service-broker'],
    serve: async (t, pod) => {
      // The app connected to the broker as it started; the Service it names does not resolve in
      // the pod (no cluster DNS here), so the broker takes each connection and closes it.
      t.equal(
        await roundTrip(pod.ip, 8080, 'hello'),
        '',
        'a connection through the app reaches the broker, which closes it (its Service is not there)',
      );
      return 'the broker accepted and closed a relayed connection';
    },
  },
  {
    template: 'redis-exporter',
    parameters: {},
    containers: [redis('app', ['--bind', '127.0.0.1', '--port', '6379'])],
    serve: async (t, pod) => {
      const metrics = await eventually(
        'redis_up 1 in the metrics',
        async () => {
          const reply = await httpGet(`http://${pod.ip}:9121/metrics`);
          return /^redis_up 1$/m.test(reply.body) ? reply.body : undefined;
        },
        60_000,
      );
      t.match(metrics, /^redis_connected_clients \d+$/m, 'the Redis stats as Prometheus metrics on the pod IP');
      return 'redis_up 1 scraped from the pod IP';
    },
  },
  {
    template: 'redis-slowlog',
    parameters: { interval: '1' },
    // Every command is slow to a threshold of 0 µs: the readiness probe's PINGs fill the slow log.
    containers: [redis('app', ['--bind', '127.0.0.1', '--port', '6379', '--slowlog-log-slower-than', '0'])],
    serve: async (t, pod) => {
      const record = await eventually(
        "a slow-log record on the adapter's stdout",
        async () => jsonLines(pod.logs('redis-slowlog')).find((r) => r.source === 'redis-slowlog'),
        60_000,
      );
      t.match(record, { source: 'redis-slowlog', command: /^[a-z]+$/i, client: /^127\.0\.0\.1:\d+$/ }, "the app's commands as JSON lines");
      return `slow-log record ${String(record.command)}`;
    },
  },
  {
    template: 'log-normalizer',
    parameters: { 'log-dir': '/var/log/web', files: 'access.log', format: 'nginx', 'create-files': 'access.log' },
    containers: [nginxAccessLogApp('app')],
    volumes: [...scratch, { name: 'conf', configMap: { name: 'web-conf' } }],
    objects: async (namespace) => [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'web-conf', namespace }, data: { 'nginx.conf': NGINX_ACCESS_LOG_CONF } },
    ],
    serve: async (t, pod) => {
      const reply = await httpGet(`http://${pod.ip}:8080/e2e-request`);
      t.equal(reply.status, 204, 'nginx answered on the pod IP');
      const record = await eventually(
        "the request in the adapter's output",
        async () => jsonLines(pod.logs('log-normalizer')).find((r) => r.path === '/e2e-request'),
        60_000,
      );
      t.match(record, { source: 'log-normalizer', file: 'access.log', code: 204 }, "nginx's access-log line as JSON");
      return 'nginx access-log line as JSON';
    },
  },
  {
    template: 'storm-logs',
    parameters: { interval: '5', window: '600' },
    containers: [
      {
        name: 'app',
        image: 'busybox:1.37.0',
        securityContext: restrictedApp,
        command: ['sh', '-c', untilStopped('httpd -f -p 127.0.0.1:8080 -h /srv')],
        volumeMounts: [{ name: 'storm-ui', mountPath: '/srv', readOnly: true }],
        readinessProbe: {
          exec: { command: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/api/v1/topology/summary'] },
          periodSeconds: 1,
        },
      },
    ],
    volumes: [
      {
        name: 'storm-ui',
        configMap: {
          name: 'storm-ui',
          items: [
            { key: 'summary', path: 'api/v1/topology/summary' },
            { key: 'topology', path: `api/v1/topology/${TOPOLOGY_ID}` },
          ],
        },
      },
    ],
    objects: async (namespace) => [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'storm-ui', namespace }, data: STORM_UI }],
    serve: async (t, pod) => {
      const records = await eventually(
        "a bolt record on the adapter's stdout",
        async () => {
          const lines = jsonLines(pod.logs('storm-logs'));
          return lines.some((r) => r.kind === 'bolt') ? lines : undefined;
        },
        60_000,
      );
      t.match(
        records.find((r) => r.kind === 'topology'),
        { source: 'storm', topology: 'wordcount', acked: 1000 },
        "the topology's statistics as JSON lines",
      );
      return 'topology, spout and bolt records';
    },
  },
];
const httpsCase: { certs?: Awaited<ReturnType<typeof makeCertificates>> } = {};

export async function builtinTests(t: Test, ctx: Context): Promise<void> {
  const { kube, cluster } = ctx;
  for (const c of CASES) {
    await t.test(`${c.template} in a Deployment: Ready, serving, deleted within its grace period`, async (t) => {
      const template = ctx.catalog.find((tpl) => tpl.name === c.template);
      if (template === undefined) throw new Error(`no built-in ${c.template}`);
      const namespace = await kube.namespace('enabled');
      for (const object of (await c.objects?.(namespace)) ?? []) await kube.must(['create', '-f', '-'], JSON.stringify(object));
      const annotations: Record<string, string> = { [`podpattern.dev/${template.spec.pattern}`]: c.template };
      for (const [name, value] of Object.entries(c.parameters)) annotations[`${c.template}.podpattern.dev/${name}`] = value;
      const labels = { app: c.template };
      await kube.must(
        ['create', '-f', '-'],
        JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: c.template, namespace },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels, annotations },
              spec: {
                automountServiceAccountToken: false,
                containers: c.containers,
                volumes: c.volumes,
                securityContext: c.securityContext,
              },
            },
          },
        }),
      );
      const created = Date.now();
      const pod = await eventually(
        `the ${c.template} pod Ready`,
        async () => {
          const ready = (await kube.pods(namespace, `app=${c.template}`)).find((p) =>
            p.status?.conditions?.some((cond: Json) => cond.type === 'Ready' && cond.status === 'True'),
          );
          return ready;
        },
        180_000,
      );
      t.comment(`${c.template}: the pod Ready ${Date.now() - created} ms after the Deployment was created`);
      t.same(missingFromPod(pod, template), [], 'the pod carries the template');
      t.ok(pod.status.podIP, `Ready as the API server stores it, at ${pod.status.podIP}`);
      const native = (pod.spec.initContainers ?? []).filter((i: Json) => i.restartPolicy === 'Always').map((i: Json) => i.name as string);
      const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])] as Json[];
      for (const name of c.startsBefore ?? []) {
        if (native.includes(name)) {
          t.ok(statuses.find((s) => s.name === name)?.ready, `${name} is a native sidecar, Ready`);
          const app = statuses.find((s) => s.name === c.containers[0]!.name);
          t.equal(app?.restartCount, 0, `${c.containers[0]!.name} connected to ${name} as it started and never restarted`);
        } else {
          t.comment(
            `${name} is an ordinary container on ${cluster.serverVersion}: the app may start before it (restarts: ${statuses.find((s) => s.name === c.containers[0]!.name)?.restartCount})`,
          );
        }
      }
      const seen = await c.serve(t, {
        ip: pod.status.podIP as string,
        logs: (container) => cluster.node.logs(namespace, pod.metadata.name, container),
      });
      t.comment(`${c.template}: ${seen}`);

      await kube.must(['delete', 'deployment', c.template, '-n', namespace, '--wait=false']);
      const deleted = Date.now();
      await eventually(
        `the ${c.template} pod gone`,
        async () => ((await kube.pods(namespace, `app=${c.template}`)).length === 0 ? true : undefined),
        180_000,
      );
      t.comment(`${c.template}: the pod gone ${Date.now() - deleted} ms after the Deployment was deleted`);
      const ended = cluster.node.ended(namespace, pod.metadata.name);
      t.ok(ended !== undefined && ended.length > 0, 'the node agent stopped its containers');
      for (const e of ended ?? []) {
        if (e.signal === undefined) continue; // a finished init container
        t.comment(
          `${c.template}/${e.name} (${e.kind}): ${e.signal} -> ${e.killed ? 'SIGKILL at the end of the grace period' : `exited ${e.exitCode}`} after ${e.exitMs} ms`,
        );
        t.notOk(e.killed, `${e.name} exited on ${e.signal} by itself within the grace period (exit ${e.exitCode})`);
      }
      await kube.kubectl(['delete', 'namespace', namespace, '--wait=false']);
    });
  }
  await t.test('an ambassador that never becomes Ready: the pod not Ready, the reason in its lastState, deleted in time', (t) =>
    neverReadyAmbassador(t, ctx),
  );
}
