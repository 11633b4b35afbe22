// service-broker in a real pod (test/podrunner): socat on 127.0.0.1 relays each connection to
// the Service named by the parameters. The pod starts and becomes Ready before that Service
// exists; then the Service appears (its name resolves, a server listens) and the broker relays
// to it without a restart. The "app" relays the pod IP to the broker, so the test connects
// from outside the pod.
import { createServer, type Server } from 'node:net';
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, relayApp, roundTrip, runUntilReady, stopCleanly } from '../podrunner/builtin.js';

const SERVICE = 'mysql.data.svc.cluster.local';

function echoServer(host: string, port: number): Promise<Server> {
  const server = createServer((socket) =>
    socket.on('data', (chunk) => socket.write(`echo:${String(chunk)}`)).on('end', () => socket.end()),
  );
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve(server)));
}

t.test(
  'service-broker relays to a Service that appears after the pod started',
  { skip: podRunnerSkip(['socat', 'busybox']) },
  async (t) => {
    const relay = relayApp('BROKER', 8080);
    const pod = injectedPod(
      'ambassador',
      'service-broker',
      { service: 'mysql', namespace: 'data', port: '13306' },
      { containers: [relay] },
      'always',
    );
    const running = await runUntilReady(t, pod);
    t.equal(
      await roundTrip(running.ip, 8080, 'hello'),
      '',
      'before the Service exists a connection is closed, and the broker keeps running',
    );

    running.setHost(SERVICE, running.hostIp);
    const server = await echoServer(running.hostIp, 13306);
    t.teardown(() => server.close());
    const answer = await eventually(
      async () => {
        const reply = await roundTrip(running.ip, 8080, 'hello');
        return reply === '' ? undefined : reply;
      },
      60_000,
      'a relayed answer',
    );
    t.equal(answer, 'echo:hello', 'the broker relays to the Service that appeared after start');
    t.match(
      running.states(),
      [
        { name: 'service-broker', kind: 'sidecar', restarts: 0, ready: true },
        { name: 'app', restarts: 0 },
      ],
      'without restarting; the broker is a native sidecar, Ready before the app, which connects to it as it starts',
    );
    await stopCleanly(t, running);
  },
);
