// storm-logs in a real pod (test/podrunner): the adapter (podpattern's own image, run from this
// repository's build) polls the Storm UI REST API on 127.0.0.1 in its pod. The Storm UI is a
// double that answers as Apache Storm documents its REST API (docs/STORM-UI-REST-API.md):
// GET /api/v1/topology/summary, then GET /api/v1/topology/:id?window=…&sys=…. It runs in this
// test process, on the host end of the pod's veth; the pod's "ui" container relays 127.0.0.1:8080
// to it, as the Storm UI container of a real pod would listen there.
import { createServer, type Server } from 'node:http';
import t from 'tap';
import { TEN_MINUTE_STATS, TOPOLOGY_ID, TOPOLOGY_SUMMARY, topologyDetail } from '../helpers/storm-ui.js';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stdoutRecords, stopCleanly } from '../podrunner/builtin.js';

function stormUiDouble(host: string, port: number, requests: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://storm-ui');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1/topology/summary') {
      res.end(JSON.stringify({ topologies: [TOPOLOGY_SUMMARY] }));
    } else if (url.pathname === `/api/v1/topology/${TOPOLOGY_ID}`) {
      const window = url.searchParams.get('window');
      const allTime = {
        windowPretty: 'All time',
        window: ':all-time',
        emitted: 99999,
        transferred: 99999,
        completeLatency: '11.000',
        acked: 99000,
        failed: 30,
      };
      res.end(
        JSON.stringify(
          topologyDetail([TEN_MINUTE_STATS, allTime].filter((s) => window === null || s.window === window || s.window === ':all-time')),
        ),
      );
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
    }
  });
  return new Promise((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve(server)));
}

t.test('storm-logs turns Storm UI topology statistics into structured stdout lines', { skip: podRunnerSkip(['socat']) }, async (t) => {
  const ui = {
    name: 'ui',
    image: 'alpine/socat:1.8.0.3',
    args: ['TCP-LISTEN:8080,bind=127.0.0.1,fork,reuseaddr', 'TCP:storm-ui-double:18080'],
    securityContext: restrictedApp,
  };
  const pod = injectedPod('adapter', 'storm-logs', { interval: '5', window: '600' }, { containers: [ui] });
  t.same(pod.spec?.initContainers ?? [], [], 'no init container: nothing is installed at pod start');
  const running = await runUntilReady(t, pod, { hostNames: ['storm-ui-double'] });
  const requests: string[] = [];
  const server = await stormUiDouble(running.hostIp, 18080, requests);
  t.teardown(() => server.close());

  const records = await eventually(
    async () => {
      const lines = stdoutRecords(running, 'storm-logs');
      return lines.some((r) => r.kind === 'bolt') ? lines : undefined;
    },
    60_000,
    "a poll of the Storm UI on the adapter's stdout",
  );
  t.match(
    records.find((r) => r.kind === 'topology'),
    {
      source: 'storm',
      topology: 'wordcount',
      topology_id: TOPOLOGY_ID,
      window: 600,
      status: 'ACTIVE',
      uptimeSeconds: 3600,
      emitted: 1200,
      acked: 1000,
      failed: 3,
      completeLatency: '12.500',
    },
    "the topology's statistics for the 10-minute window",
  );
  t.match(
    records.find((r) => r.kind === 'spout'),
    { component: 'sentences', acked: 590, failed: 3 },
    'each spout',
  );
  t.match(
    records.find((r) => r.kind === 'bolt'),
    { component: 'count', executed: 590, capacity: '0.012', processLatency: '0.400' },
    'each bolt',
  );
  t.ok(requests.includes('/api/v1/topology/summary'), 'it asked for the summary');
  t.ok(
    requests.includes(`/api/v1/topology/${TOPOLOGY_ID}?window=600&sys=false`),
    'then the topology, for the window, without system components',
  );
  await stopCleanly(t, running);
});
