// request-splitter in a real pod (test/podrunner): nginx on 127.0.0.1 splits the app's requests
// between two backends by weight (9 : 1) and keeps each user (the first X-Forwarded-For address)
// on one side. The backends are HTTP servers on the host end of the pod's veth, named as the
// template's parameters name them; the "app" relays requests from the pod IP to the splitter,
// as a frontend passing its users' calls on would.
import { createServer, get, type Server } from 'node:http';
import t from 'tap';
import { injectedPod, podRunnerSkip, restrictedApp, runUntilReady } from '../podrunner/builtin.js';

function backend(name: string, host: string, port: number): Promise<Server> {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve(server)));
}

function call(host: string, user: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host, port: 8080, path: '/', agent: false, headers: user === undefined ? {} : { 'X-Forwarded-For': `${user}, 10.0.0.1` } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    }).on('error', reject);
  });
}

t.test('request-splitter sends about 10% of users to the experiment, each user always to the same side', { skip: podRunnerSkip(['nginx', 'socat']) }, async (t) => {
  const relay = {
    name: 'frontend', image: 'alpine/socat:1.8.0.3', args: ['TCP-LISTEN:8080,fork,reuseaddr', 'TCP:127.0.0.1:8090'], securityContext: restrictedApp,
    ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
  };
  // The backends listen on the host end of the pod's veth, which exists once the pod starts:
  // nginx resolves their names at start and connects per request.
  const pod = injectedPod('ambassador', 'request-splitter', {
    production: 'web.default.svc.cluster.local', 'production-port': '18080',
    experiment: 'web-experiment.default.svc.cluster.local', 'experiment-port': '18081',
    'production-weight': '9', 'experiment-weight': '1', 'split-by': 'forwarded-for',
  }, { containers: [relay] });
  const running = await runUntilReady(t, pod, { hostNames: ['web.default.svc.cluster.local', 'web-experiment.default.svc.cluster.local'] });
  const servers = [await backend('production', running.hostIp, 18080), await backend('experiment', running.hostIp, 18081)];
  t.teardown(() => { for (const server of servers) server.close(); });
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
});

