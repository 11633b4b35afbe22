// redis-exporter in a real pod (test/podrunner): the app is a real redis-server on 127.0.0.1,
// the adapter (Debian's build of oliver006/redis_exporter) serves its stats as Prometheus
// metrics on the pod IP, where the test scrapes them as Prometheus would.
import { get } from 'node:http';
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stopCleanly } from '../podrunner/builtin.js';

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}`))));
    }).on('error', reject);
  });
}

t.test(
  'redis-exporter serves the Redis stats as Prometheus metrics',
  { skip: podRunnerSkip(['redis-server', 'prometheus-redis-exporter']) },
  async (t) => {
    const redis = {
      name: 'redis',
      image: 'redis:7.2.4',
      args: ['redis-server', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'],
      securityContext: { ...restrictedApp, runAsUser: 999, runAsGroup: 999 },
      readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
    };
    const pod = injectedPod('adapter', 'redis-exporter', {}, { containers: [redis] });
    t.match(
      pod.metadata?.annotations,
      { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9121' },
      'the pod carries the scrape hints',
    );
    const running = await runUntilReady(t, pod);
    t.equal((await running.exec('redis', ['redis-cli', 'set', 'podpattern', 'adapter'])).output.trim(), 'OK', 'the app writes a key');
    const metrics = await eventually(
      async () => {
        const text = await fetchText(`http://${running.ip}:9121/metrics`);
        return /^redis_db_keys\{db="db0"\} 1$/m.test(text) ? text : undefined;
      },
      60_000,
      'the key count in the metrics',
    );
    t.match(metrics, /^redis_up 1$/m, 'redis_up 1: the exporter reached the Redis in its pod');
    t.match(metrics, /^redis_db_keys\{db="db0"\} 1$/m, 'the key the app wrote is counted');
    t.match(metrics, /^redis_connected_clients \d+$/m, 'client stats');
    await stopCleanly(t, running);
  },
);
