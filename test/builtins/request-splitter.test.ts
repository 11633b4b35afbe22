// request-splitter in a real pod (test/podrunner): nginx on 127.0.0.1 splits the app's requests
// between two backends (10% to the experiment) and keeps each user (the first X-Forwarded-For
// address) on one side. The pod starts before the backends' Services exist; then a cluster DNS
// double starts answering for them and nginx, which resolves per request, follows. The backends
// are HTTP servers on the host end of the pod's veth; the "app" relays requests from the pod IP
// to the splitter, as a frontend passing its users' calls on would.
import { createServer, get, type Server } from 'node:http';
import { startDns } from '../podrunner/dns.js';
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stopCleanly } from '../podrunner/builtin.js';

function backend(name: string, host: string, port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve(server)));
}

function call(host: string, user: string | undefined): Promise<string> {
  return callWithStatus(host, user).then(({ status, body }) => (status === 200 ? body : Promise.reject(new Error(`status ${status}: ${body}`))));
}

function callWithStatus(host: string, user: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host, port: 8080, path: '/', agent: false, headers: user === undefined ? {} : { 'X-Forwarded-For': `${user}, 10.0.0.1` } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

t.test('request-splitter starts before its Services exist, then sends about 10% of users to the experiment, each always to the same side', { skip: podRunnerSkip(['nginx', 'socat']) }, async (t) => {
  const relay = {
    name: 'frontend', image: 'alpine/socat:1.8.0.3', args: ['TCP-LISTEN:8080,fork,reuseaddr', 'TCP:127.0.0.1:8090'], securityContext: restrictedApp,
    ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
  };
  const pod = injectedPod('ambassador', 'request-splitter', {
    production: 'web.default.svc.cluster.local', 'production-port': '18080',
    experiment: 'web-experiment.default.svc.cluster.local', 'experiment-port': '18081',
    'experiment-percent': '10', 'split-by': 'forwarded-for',
  }, { containers: [relay] });
  // The cluster DNS is reached by name (the template's default resolver) on the host end of the
  // veth; neither backend resolves yet, and nginx starts all the same.
  const running = await runUntilReady(t, pod, { hostNames: ['kube-dns.kube-system.svc.cluster.local'] });
  const dns = await startDns(running.hostIp);
  t.teardown(() => dns.close());
  t.equal((await callWithStatus(running.ip, '198.51.100.1')).status, 502, 'while the Services do not exist, requests fail and nginx keeps running');

  // The Services appear: their names resolve and their servers listen.
  const servers = [await backend('production', running.hostIp, 18080), await backend('experiment', running.hostIp, 18081)];
  t.teardown(() => { for (const server of servers) server.close(); });
  dns.set('web.default.svc.cluster.local', running.hostIp);
  dns.set('web-experiment.default.svc.cluster.local', running.hostIp);
  await eventually(async () => ((await callWithStatus(running.ip, '198.51.100.1')).status === 200 ? true : undefined), 60_000, 'nginx following the new names');
  t.pass('nginx resolved the Services that appeared after it started, without a restart');

  // Documentation addresses, only ever written into a header.
  const users = Array.from({ length: 300 }, (_, i) => (i < 150 ? `198.51.100.${i}` : `203.0.113.${i - 150}`));
  const sides = new Map<string, string>();
  for (const user of users) sides.set(user, await call(running.ip, user));
  const experiment = [...sides.values()].filter((side) => side === 'experiment').length;
  t.comment(`${experiment} of ${users.length} users went to the experiment`);
  t.ok(experiment >= 0.03 * users.length && experiment <= 0.2 * users.length, `about a tenth of users reach the experiment (${experiment}/${users.length})`);
  t.ok([...sides.values()].every((side) => side === 'production' || side === 'experiment'), 'every request reached a backend');

  let moved = 0;
  for (const user of users.slice(0, 60)) for (let i = 0; i < 3; i++) if ((await call(running.ip, user)) !== sides.get(user)) moved++;
  t.equal(moved, 0, 'each user stays on one side');
  const anonymous = new Set<string>();
  for (let i = 0; i < 20; i++) anonymous.add(await call(running.ip, undefined));
  t.equal(anonymous.size, 1, 'requests without X-Forwarded-For are keyed by the client address, not split per request');
  await stopCleanly(t, running);
});

