// request-splitter in a real pod (test/podrunner): nginx on 127.0.0.1 splits the app's requests
// between two backends (10% to the experiment) and keeps each user (the first X-Forwarded-For
// address) on one side. The pod starts before the backends' Services exist; then a cluster DNS
// double starts answering for them and nginx, which resolves per request, follows. The backends
// are HTTP servers on the host end of the pod's veth. Two "apps" pass requests on to the
// splitter: a relay (socat) that forwards them as they are, and an nginx frontend that appends
// the address of its client connection to X-Forwarded-For, as a reverse proxy does; users reach
// it directly (from their own addresses) or through a proxy in front (which sets the header).
import { execFile } from 'node:child_process';
import { createServer, get, type Server } from 'node:http';
import { startDns } from '../podrunner/dns.js';
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stopCleanly, usesAtBoot } from '../podrunner/builtin.js';

function backend(name: string, host: string, port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve(server)));
}

function call(host: string, user: string | undefined): Promise<string> {
  return callWithStatus(host, user).then(({ status, body }) =>
    status === 200 ? body : Promise.reject(new Error(`status ${status}: ${body}`)),
  );
}

function callWithStatus(host: string, user: string | undefined, port = 8080): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host, port, path: '/', agent: false, headers: user === undefined ? {} : { 'X-Forwarded-For': `${user}, 10.0.0.1` } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const FRONTEND_CONF = `daemon off;
pid /tmp/nginx.pid;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi; uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi;
  server {
    listen 8081;
    location / {
      proxy_pass http://127.0.0.1:8090;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;

/**
 * Users who reach the frontend directly, each from an address of its own: a client in the pod's
 * network namespace, bound to an address of 127.0.1.0/23 (the loopback interface answers for all of 127/8), asks
 * 127.0.0.1:8081 `rounds` times. Resolves with the sides each user got.
 */
function directUsers(netns: string, count: number, rounds: number): Promise<string[][]> {
  const script = `
    const http = require('node:http');
    const ask = (localAddress) => new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: 8081, path: '/', localAddress, agent: false }, (res) => {
      let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error('status ' + res.statusCode))));
    }).on('error', reject));
    (async () => {
      const sides = [];
      for (let i = 0; i < ${count}; i++) { const got = []; for (let r = 0; r < ${rounds}; r++) got.push(await ask('127.0.' + (1 + Math.floor(i / 250)) + '.' + (1 + (i % 250)))); sides.push(got); }
      process.stdout.write(JSON.stringify(sides));
    })().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
  return new Promise((resolve, reject) =>
    execFile('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(JSON.parse(stdout) as string[][]),
    ),
  );
}

t.test(
  'request-splitter starts before its Services exist, then sends about 10% of users to the experiment, each always to the same side',
  { skip: podRunnerSkip(['nginx', 'socat']) },
  async (t) => {
    const relay = {
      name: 'frontend',
      image: 'alpine/socat:1.8.0.3',
      command: ['sh', '-c', usesAtBoot('127.0.0.1:8090', 'socat TCP-LISTEN:8080,fork,reuseaddr TCP:127.0.0.1:8090')],
      securityContext: restrictedApp,
      ports: [{ containerPort: 8080 }],
      readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
    };
    const frontend = {
      name: 'web',
      image: 'nginxinc/nginx-unprivileged:1.29.0-alpine',
      command: ['nginx', '-c', '/etc/web/nginx.conf', '-e', 'stderr'],
      securityContext: { ...restrictedApp, runAsUser: 101, runAsGroup: 101 },
      ports: [{ containerPort: 8081 }],
      readinessProbe: { tcpSocket: { port: 8081 }, periodSeconds: 1 },
      volumeMounts: [
        { name: 'web-tmp', mountPath: '/tmp' },
        { name: 'web-conf', mountPath: '/etc/web', readOnly: true },
      ],
    };
    const pod = injectedPod(
      'ambassador',
      'request-splitter',
      {
        production: 'web.default.svc.cluster.local',
        'production-port': '18080',
        experiment: 'web-experiment.default.svc.cluster.local',
        'experiment-port': '18081',
        'experiment-percent': '10',
        'split-by': 'forwarded-for',
      },
      {
        containers: [relay, frontend],
        volumes: [
          { name: 'web-tmp', emptyDir: {} },
          { name: 'web-conf', configMap: { name: 'web-conf' } },
        ],
      },
      'always',
    );
    // The cluster DNS is reached by name (the template's default resolver) on the host end of the
    // veth; neither backend resolves yet, and nginx starts all the same.
    const running = await runUntilReady(t, pod, {
      hostNames: ['kube-dns.kube-system.svc.cluster.local'],
      configMaps: { 'web-conf': { 'nginx.conf': FRONTEND_CONF } },
    });
    t.match(
      running.states(),
      [
        { name: 'request-splitter', kind: 'sidecar' },
        { name: 'frontend', restarts: 0 },
        { name: 'web', restarts: 0 },
      ],
      'nginx is a native sidecar, Ready before the apps; the relay connects to it as it starts and never restarts',
    );
    const dns = await startDns(running.hostIp);
    t.teardown(() => dns.close());
    t.equal(
      (await callWithStatus(running.ip, '198.51.100.1')).status,
      502,
      'while the Services do not exist, requests fail and nginx keeps running',
    );

    // The Services appear: their names resolve and their servers listen.
    const servers = [await backend('production', running.hostIp, 18080), await backend('experiment', running.hostIp, 18081)];
    t.teardown(() => {
      for (const server of servers) server.close();
    });
    dns.set('web.default.svc.cluster.local', running.hostIp);
    dns.set('web-experiment.default.svc.cluster.local', running.hostIp);
    await eventually(
      async () => ((await callWithStatus(running.ip, '198.51.100.1')).status === 200 ? true : undefined),
      60_000,
      'nginx following the new names',
    );
    t.pass('nginx resolved the Services that appeared after it started, without a restart');

    // Documentation addresses, only ever written into a header.
    const users = Array.from({ length: 300 }, (_, i) => (i < 150 ? `198.51.100.${i}` : `203.0.113.${i - 150}`));
    const sides = new Map<string, string>();
    for (const user of users) sides.set(user, await call(running.ip, user));
    const experiment = [...sides.values()].filter((side) => side === 'experiment').length;
    t.comment(`${experiment} of ${users.length} users went to the experiment`);
    t.ok(
      experiment >= 0.03 * users.length && experiment <= 0.2 * users.length,
      `about a tenth of users reach the experiment (${experiment}/${users.length})`,
    );
    t.ok(
      [...sides.values()].every((side) => side === 'production' || side === 'experiment'),
      'every request reached a backend',
    );

    let moved = 0;
    for (const user of users.slice(0, 60)) for (let i = 0; i < 3; i++) if ((await call(running.ip, user)) !== sides.get(user)) moved++;
    t.equal(moved, 0, 'each user stays on one side');
    // An app that passes no X-Forwarded-For: each request is split by itself, so the share holds
    // (keyed by the client address, 127.0.0.1, every request would go one way).
    const anonymous: string[] = [];
    for (let i = 0; i < 300; i++) anonymous.push(await call(running.ip, undefined));
    const anonymousExperiment = anonymous.filter((side) => side === 'experiment').length;
    t.ok(
      anonymousExperiment >= 0.03 * 300 && anonymousExperiment <= 0.2 * 300,
      `requests without X-Forwarded-For are split too, each by itself (${anonymousExperiment}/300 to the experiment)`,
    );

    // The nginx frontend, reached directly: X-Forwarded-For is the user's connection address.
    const direct = await directUsers(running.netns, 300, 2);
    const directExperiment = direct.filter((got) => got[0] === 'experiment').length;
    t.comment(`${directExperiment} of 300 users reaching the frontend directly went to the experiment`);
    t.ok(
      directExperiment >= 0.03 * 300 && directExperiment <= 0.2 * 300,
      `without a proxy in front, about a tenth of users reach the experiment (${directExperiment}/300)`,
    );
    t.ok(
      direct.every((got) => got[0] === got[1]),
      'each on one side',
    );
    // Behind a proxy that sets X-Forwarded-For to the user: the frontend appends the proxy's address, the user stays first.
    let sameAsRelay = 0;
    for (const user of users.slice(0, 60)) if ((await callWithStatus(running.ip, user, 8081)).body === sides.get(user)) sameAsRelay++;
    t.equal(
      sameAsRelay,
      60,
      "with a proxy in front, each user is keyed by the proxy's X-Forwarded-For and lands where it did through the relay",
    );
    await stopCleanly(t, running);
  },
);
