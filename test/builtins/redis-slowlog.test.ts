// redis-slowlog in a real pod (test/podrunner): the app is a real redis-server on 127.0.0.1
// that logs commands slower than 1 ms; the adapter (podpattern's own image, run from this
// repository's build) turns its SLOWLOG into JSON lines on stdout. The pod has no egress.
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stdoutRecords, stopCleanly } from '../podrunner/builtin.js';

/** A Lua loop that takes well over a millisecond on any machine. */
const SLOW = ['EVAL', 'local i = 0 while i < 3000000 do i = i + 1 end return i', '0'];

t.test(
  'redis-slowlog turns the slow queries of a real Redis into structured stdout lines',
  { skip: podRunnerSkip(['redis-server', 'redis-cli']) },
  async (t) => {
    const redis = {
      name: 'redis',
      image: 'redis:7.2.4',
      args: [
        'redis-server',
        '--bind',
        '127.0.0.1',
        '--port',
        '6379',
        '--save',
        '',
        '--appendonly',
        'no',
        '--slowlog-log-slower-than',
        '1000',
      ],
      securityContext: { ...restrictedApp, runAsUser: 999, runAsGroup: 999 },
      readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 1 },
    };
    const pod = injectedPod('adapter', 'redis-slowlog', { interval: '1' }, { containers: [redis] });
    t.same(pod.spec?.initContainers ?? [], [], 'no init container: nothing is installed at pod start');
    t.match(
      pod.spec?.containers.find((c) => c.name === 'redis-slowlog'),
      { image: /^ghcr\.io\/podpattern\/podpattern:/, securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true } },
    );
    const running = await runUntilReady(t, pod);
    const reply = await running.exec('redis', ['redis-cli', ...SLOW]);
    t.equal(reply.output.trim(), '3000000', 'the app ran a slow script');

    const record = await eventually(
      async () => stdoutRecords(running, 'redis-slowlog').find((r) => r.command === 'EVAL'),
      60_000,
      "the slow EVAL on the adapter's stdout",
    );
    t.match(
      record,
      { source: 'redis-slowlog', command: 'EVAL', args: [SLOW[1], '0'], time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/ },
      'one JSON line per slow command, with its arguments and time',
    );
    t.ok(Number(record.duration_us) >= 1000, `with its duration (${String(record.duration_us)} µs)`);
    t.match(record.client, /^127\.0\.0\.1:\d+$/, 'and the client that sent it');
    const stdout = running.logs('redis-slowlog', 'stdout').split('\n').filter(Boolean);
    t.ok(
      stdout.every((line) => (JSON.parse(line) as { source?: string }).source === 'redis-slowlog'),
      'stdout carries only slow-log records',
    );
    t.match(running.logs('redis-slowlog', 'stderr'), /adapter redis-slowlog started/, "the adapter's own messages go to stderr");
    await stopCleanly(t, running);
  },
);
