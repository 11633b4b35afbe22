// One Storm topology ("wordcount": a spout of sentences and a counting bolt) as Apache Storm's UI
// REST API reports it (docs/STORM-UI-REST-API.md in Apache Storm): the storm-logs adapter's pod
// test serves it from a double in the test process, the e2e builtins group as files busybox httpd
// serves, and both check the adapter's records against these figures.

export const TOPOLOGY_ID = 'wordcount-1-1700000000';

/** The topology as GET /api/v1/topology/summary lists it. */
export const TOPOLOGY_SUMMARY = {
  id: TOPOLOGY_ID,
  name: 'wordcount',
  status: 'ACTIVE',
  uptime: '1h 0m 0s',
  uptimeSeconds: 3600,
  tasksTotal: 10,
  workersTotal: 2,
  executorsTotal: 10,
};

/** Its statistics for the 10-minute window (window=600). */
export const TEN_MINUTE_STATS = {
  windowPretty: '10m 0s',
  window: '600',
  emitted: 1200,
  transferred: 1100,
  completeLatency: '12.500',
  acked: 1000,
  failed: 3,
};

/** GET /api/v1/topology/:id with these window statistics. */
export function topologyDetail(topologyStats: object[]): object {
  return {
    id: TOPOLOGY_ID,
    name: 'wordcount',
    status: 'ACTIVE',
    topologyStats,
    spouts: [
      {
        spoutId: 'sentences',
        executors: 2,
        tasks: 2,
        emitted: 600,
        transferred: 600,
        completeLatency: '12.500',
        acked: 590,
        failed: 3,
        lastError: '',
      },
    ],
    bolts: [
      {
        boltId: 'count',
        executors: 4,
        tasks: 4,
        emitted: 600,
        transferred: 500,
        capacity: '0.012',
        executeLatency: '0.300',
        executed: 590,
        processLatency: '0.400',
        acked: 590,
        failed: 0,
        lastError: '',
      },
    ],
  };
}
