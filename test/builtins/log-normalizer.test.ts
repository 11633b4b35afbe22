// log-normalizer in a real pod (test/podrunner): the app writes log lines with their own
// timestamps into the shared volume; the adapter (podpattern's own image, run from this
// repository's build) writes each as a JSON line on stdout keeping that timestamp, and keeps the
// volume bounded by truncating a file it has read to its end once it passes max-file-mib.
import t from 'tap';
import {
  NGINX_ACCESS_LOG_CONF,
  eventually,
  injectedPod,
  nginxAccessLogApp,
  podRunnerSkip,
  restrictedApp,
  runUntilReady,
  stdoutRecords,
  stopCleanly,
  untilStopped,
} from '../podrunner/builtin.js';

const LINES = 12_000; // about 1.3 MiB: past the 1 MiB bound the test sets

t.test(
  "log-normalizer writes the app's log lines as JSON with their own timestamps, and bounds the volume",
  { skip: podRunnerSkip(['busybox']) },
  async (t) => {
    // Each line: its own (past) timestamp, a sequence number, padding. Appended (>>), as loggers do,
    // group-writable (umask 002) in the pod's fsGroup, so the adapter may truncate the file.
    const script = `umask 002; i=0; while [ $i -lt ${LINES} ]; do echo "2024-01-02T03:04:05.$((i % 1000))Z request $i done ........................................................................" >> /var/log/app/app.log; i=$((i + 1)); done; echo written > /tmp/written; ${untilStopped('sleep 100000')}`;
    const app = {
      name: 'app',
      image: 'busybox:1.37.0',
      command: ['sh', '-c', script],
      securityContext: restrictedApp,
      volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
    };
    const pod = injectedPod(
      'adapter',
      'log-normalizer',
      { 'log-dir': '/var/log/app', files: '*.log', format: 'none', 'max-file-mib': '1' },
      { containers: [app], volumes: [{ name: 'scratch', emptyDir: {} }], securityContext: { fsGroup: 2000 } },
    );
    const running = await runUntilReady(t, pod);

    const records = await eventually(
      async () => {
        const lines = stdoutRecords(running, 'log-normalizer');
        return lines.length >= LINES ? lines : undefined;
      },
      120_000,
      `all ${LINES} lines on the adapter's stdout`,
    );
    t.equal(records.length, LINES, 'one JSON line per log line');
    const sequence = records.map((r) => Number(/request (\d+) done/.exec(String(r.message))?.[1]));
    t.same(
      sequence,
      Array.from({ length: LINES }, (_, i) => i),
      'every line once, in order',
    );
    t.match(
      records[7],
      { source: 'log-normalizer', file: 'app.log', time: '2024-01-02T03:04:05.7Z', message: /^request 7 done/, read_at: /^\d{4}-/ },
      "the line's own timestamp is kept as time",
    );

    const size = await eventually(
      async () => {
        const out = (await running.exec('app', ['stat', '-c', '%s', '/var/log/app/app.log'])).output.trim();
        return Number(out) < 1024 * 1024 ? Number(out) : undefined;
      },
      60_000,
      'the log file below the bound',
    );
    t.ok(size < 1024 * 1024, `the file read to its end was truncated (${size} bytes left)`);
    t.match(running.logs('log-normalizer', 'stderr'), /truncated a log file/, 'and the adapter said so on stderr');
    t.ok(
      running
        .logs('log-normalizer', 'stdout')
        .split('\n')
        .filter(Boolean)
        .every((line) => JSON.parse(line).source === 'log-normalizer'),
      "stdout carries only the app's lines",
    );
    await stopCleanly(t, running);
  },
);

// nginx creates its logs 0644 whatever the umask, so without create-files the adapter cannot
// truncate them (the pod has no fsGroup either); with it, the file is the adapter's from the start.
const PATH_CHARS = 2_000;
const REQUESTS = 700; // each line is over 2,000 bytes: about 1.4 MiB, past the 1 MiB bound

function nginxPod(createFiles: string | undefined) {
  const parameters: Record<string, string> = {
    'log-dir': '/var/log/web',
    files: 'access.log',
    format: 'nginx',
    'max-file-mib': '1',
    ...(createFiles === undefined ? {} : { 'create-files': createFiles }),
  };
  return injectedPod('adapter', 'log-normalizer', parameters, {
    containers: [nginxAccessLogApp('web')],
    volumes: [
      { name: 'scratch', emptyDir: {} },
      { name: 'conf', configMap: { name: 'web-conf' } },
    ],
  });
}

async function traffic(ip: string, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const response = await fetch(`http://${ip}:8080/${String(i).padStart(6, '0')}/${'x'.repeat(PATH_CHARS)}`);
    if (response.status !== 204) throw new Error(`nginx answered ${response.status}`);
  }
}

t.test(
  "log-normalizer bounds nginx's access log, which nginx writes 0644 whatever the umask",
  { skip: podRunnerSkip(['nginx', 'busybox']) },
  async (t) => {
    const options = { configMaps: { 'web-conf': { 'nginx.conf': NGINX_ACCESS_LOG_CONF } } };
    const without = await runUntilReady(t, nginxPod(undefined), options);
    await traffic(without.ip, 0, REQUESTS);
    await eventually(
      async () => (/cannot truncate a log file/.test(without.logs('log-normalizer', 'stderr')) ? true : undefined),
      60_000,
      'the adapter reporting that it cannot truncate',
    );
    t.match(
      (await without.exec('web', ['stat', '-c', '%u %a', '/var/log/web/access.log'])).output.trim(),
      '101 644',
      'without create-files: nginx made the file, its own and 0644, and the adapter cannot truncate it',
    );
    await stopCleanly(t, without);

    const pod = nginxPod('access.log,error.log');
    t.match(pod.spec?.initContainers, [{ name: 'log-normalizer-files' }], 'an init container creates the files before the app starts');
    const running = await runUntilReady(t, pod, options);
    t.match(
      (await running.exec('web', ['stat', '-c', '%u %a', '/var/log/web/access.log'])).output.trim(),
      '65532 666',
      "the access log is the adapter's, writable by the pod's containers",
    );
    await traffic(running.ip, 0, REQUESTS);
    const size = await eventually(
      async () => {
        const bytes = Number((await running.exec('web', ['stat', '-c', '%s', '/var/log/web/access.log'])).output.trim());
        return /truncated a log file/.test(running.logs('log-normalizer', 'stderr')) && bytes < 1024 * 1024 ? bytes : undefined;
      },
      60_000,
      'the access log truncated below the bound',
    );
    t.comment(`access.log at ${size} bytes after ${REQUESTS} requests of over ${PATH_CHARS} bytes`);
    // nginx goes on appending at the new end of the file it holds open.
    await traffic(running.ip, REQUESTS, 10);
    const records = await eventually(
      async () => {
        const lines = stdoutRecords(running, 'log-normalizer');
        return lines.some((r) => String(r.path).startsWith(`/${String(REQUESTS + 9).padStart(6, '0')}/`)) ? lines : undefined;
      },
      60_000,
      "the last request's access-log record",
    );
    // The readiness probe's requests (GET /) are logged too; the test's own carry their number.
    const seen = records
      .map((r) => /^\/(\d{6})\//.exec(String(r.path))?.[1])
      .filter((n) => n !== undefined)
      .map(Number);
    t.same(
      seen.slice(-10),
      Array.from({ length: 10 }, (_, i) => REQUESTS + i),
      'the requests after the truncation are read too, from the start of the truncated file',
    );
    t.equal(
      new Set(seen).size,
      seen.length,
      `no request twice (${seen.length} records of ${REQUESTS + 10} requests: a line written in the instant of a truncation can be lost)`,
    );
    t.notMatch(running.logs('log-normalizer', 'stderr'), /cannot truncate/, 'no file the adapter could not truncate');
    await stopCleanly(t, running);
  },
);
