// log-normalizer in a real pod (test/podrunner): the app writes log lines with their own
// timestamps into the shared volume; the adapter (podpattern's own image, run from this
// repository's build) writes each as a JSON line on stdout keeping that timestamp, and keeps the
// volume bounded by truncating a file it has read to its end once it passes max-file-mib.
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stopCleanly, untilStopped } from '../podrunner/builtin.js';

const LINES = 12_000; // about 1.3 MiB: past the 1 MiB bound the test sets

t.test('log-normalizer writes the app\'s log lines as JSON with their own timestamps, and bounds the volume', { skip: podRunnerSkip(['busybox']) }, async (t) => {
  // Each line: its own (past) timestamp, a sequence number, padding. Appended (>>), as loggers do,
  // group-writable (umask 002) in the pod's fsGroup, so the adapter may truncate the file.
  const script = `umask 002; i=0; while [ $i -lt ${LINES} ]; do echo "2024-01-02T03:04:05.$((i % 1000))Z request $i done ........................................................................" >> /var/log/app/app.log; i=$((i + 1)); done; echo written > /tmp/written; ${untilStopped('sleep 100000')}`;
  const app = { name: 'app', image: 'busybox:1.37.0', command: ['sh', '-c', script], securityContext: restrictedApp, volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }] };
  const pod = injectedPod('adapter', 'log-normalizer', { 'log-dir': '/var/log/app', files: '*.log', format: 'none', 'max-file-mib': '1' }, { containers: [app], volumes: [{ name: 'scratch', emptyDir: {} }], securityContext: { fsGroup: 2000 } });
  const running = await runUntilReady(t, pod);

  const records = await eventually(async () => {
    const lines = running.logs('log-normalizer', 'stdout').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    return lines.length >= LINES ? lines : undefined;
  }, 120_000, `all ${LINES} lines on the adapter's stdout`);
  t.equal(records.length, LINES, 'one JSON line per log line');
  const sequence = records.map((r) => Number(/request (\d+) done/.exec(String(r.message))?.[1]));
  t.same(sequence, Array.from({ length: LINES }, (_, i) => i), 'every line once, in order');
  t.match(records[7], { source: 'log-normalizer', file: 'app.log', time: '2024-01-02T03:04:05.7Z', message: /^request 7 done/, read_at: /^\d{4}-/ }, 'the line\'s own timestamp is kept as time');

  const size = await eventually(async () => {
    const out = (await running.exec('app', ['stat', '-c', '%s', '/var/log/app/app.log'])).output.trim();
    return Number(out) < 1024 * 1024 ? Number(out) : undefined;
  }, 60_000, 'the log file below the bound');
  t.ok(size < 1024 * 1024, `the file read to its end was truncated (${size} bytes left)`);
  t.match(running.logs('log-normalizer', 'stderr'), /truncated a log file/, 'and the adapter said so on stderr');
  t.ok(running.logs('log-normalizer', 'stdout').split('\n').filter(Boolean).every((line) => JSON.parse(line).source === 'log-normalizer'), 'stdout carries only the app\'s lines');
  await stopCleanly(t, running);
});
