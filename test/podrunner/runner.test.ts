// The pod runner itself, on a small hand-written pod of busybox containers: what a kubelet does
// that the built-in tests rely on. Needs root, ip, bwrap, setpriv, nsenter and busybox (CI
// installs them); without them the test says so and skips.
import { spawnSync } from 'node:child_process';
import { get } from 'node:http';
import type { V1Pod } from '#kube';
import t from 'tap';
import { eventually, READY_BOUND_MS } from './builtin.js';
import { startPod } from './index.js';

const missing = ['ip', 'bwrap', 'setpriv', 'nsenter', 'busybox'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
const skip =
  process.getuid?.() !== 0
    ? 'the pod runner needs root (network namespaces)'
    : missing.length > 0
      ? `not installed: ${missing.join(', ')}`
      : false;

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += String(chunk)));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

const restricted = {
  runAsUser: 1234,
  runAsGroup: 2345,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

const pod: V1Pod = {
  metadata: {
    name: 'runner-test',
    namespace: 'default',
    annotations: { 'example.dev/greeting': 'hello from the annotation' },
    labels: { app: 'runner' },
  },
  spec: {
    // busybox httpd has no SIGTERM handler: as PID 1 it waits for SIGKILL, so a short grace period.
    terminationGracePeriodSeconds: 1,
    volumes: [
      { name: 'shared', emptyDir: {} },
      {
        name: 'info',
        downwardAPI: {
          items: [
            { path: 'greeting', fieldRef: { fieldPath: "metadata.annotations['example.dev/greeting']" } },
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          ],
        },
      },
      { name: 'creds', secret: { secretName: 'creds' } },
    ],
    initContainers: [
      {
        name: 'prepare',
        image: 'busybox:1.37.0',
        command: ['sh', '-c', 'echo prepared > /shared/index.html && echo second > /shared/order'],
        securityContext: restricted,
        volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
      },
      {
        name: 'sidecar',
        image: 'busybox:1.37.0',
        restartPolicy: 'Always',
        command: ['sh', '-c', 'sleep 1 && touch /shared/sidecar-up && exec httpd -f -p 9090 -h /shared'],
        securityContext: restricted,
        ports: [{ name: 'side', containerPort: 9090 }],
        startupProbe: { httpGet: { path: '/index.html', port: 'side' }, periodSeconds: 1, failureThreshold: 30 },
        volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
      },
    ],
    containers: [
      {
        name: 'web',
        image: 'busybox:1.37.0',
        command: ['sh', '-c', 'test -f /shared/sidecar-up && exec httpd -f -p $(PORT) -h /shared'],
        env: [{ name: 'PORT', value: '8081' }],
        securityContext: restricted,
        ports: [{ containerPort: 8081 }],
        readinessProbe: { httpGet: { path: '/index.html', port: 8081 }, periodSeconds: 1 },
        livenessProbe: { exec: { command: ['test', '-f', '/shared/index.html'] }, periodSeconds: 2 },
        volumeMounts: [
          { name: 'shared', mountPath: '/shared' },
          { name: 'info', mountPath: '/etc/podinfo', readOnly: true },
          { name: 'creds', mountPath: '/etc/creds', readOnly: true },
        ],
      },
    ],
  },
};

t.test('a pod of busybox containers, run as the kubelet runs it', { skip }, async (t) => {
  const running = await startPod(pod, { secrets: { creds: { password: 's3cret' } } });
  t.teardown(() => running.stop());
  const ms = await running.waitReady(READY_BOUND_MS);
  t.comment(`Ready after ${ms} ms`);
  t.notMatch(running.ip, /^127\./, 'the pod IP is not a loopback address');

  const page = await fetchText(`http://${running.ip}:8081/index.html`);
  t.equal(page.body.trim(), 'prepared', 'the init container ran first and its emptyDir is shared');

  const exec = async (argv: string[]) => running.exec('web', argv);
  t.equal((await exec(['id', '-u'])).output.trim(), '1234', 'runs as the securityContext uid');
  t.equal((await exec(['id', '-g'])).output.trim(), '2345', 'and gid');
  t.not((await exec(['sh', '-c', 'echo x > /etc/written'])).code, 0, 'the root filesystem is read-only');
  t.equal((await exec(['sh', '-c', 'echo x > /shared/written'])).code, 0, 'the emptyDir is writable');
  t.not((await exec(['sh', '-c', 'echo x > /tmp/written'])).code, 0, 'a read-only root has no writable /tmp either (no volume there)');
  t.not((await exec(['test', '-e', '/work'])).code, 0, "the host's work trees are not in the container");
  t.not((await exec(['test', '-e', '/root'])).code, 0, "nor root's home");
  t.equal((await exec(['cat', '/proc/sys/kernel/hostname'])).output.trim(), 'runner-test', "the hostname is the pod's name");
  t.equal((await exec(['cat', '/etc/podinfo/greeting'])).output, 'hello from the annotation', 'downwardAPI renders one annotation bare');
  t.equal((await exec(['cat', '/etc/podinfo/labels'])).output, 'app="runner"', 'and a whole map as key="value" lines');
  t.equal((await exec(['cat', '/etc/creds/password'])).output, 's3cret', 'the Secret volume holds its keys');
  const status = (await exec(['cat', '/proc/self/status'])).output;
  t.match(status, /CapEff:\s+0000000000000000/, 'no effective capabilities');
  t.match(status, /CapBnd:\s+0000000000000000/, 'an empty bounding set');
  t.match(status, /NoNewPrivs:\s+1/, 'no_new_privs is set');
  const sidecarPage = await fetchText(`http://${running.ip}:9090/order`);
  t.equal(sidecarPage.body.trim(), 'second', 'the native sidecar serves on the pod IP too');
  t.same(
    running.states().map((s) => [s.name, s.kind, s.restarts]),
    [
      ['prepare', 'init', 0],
      ['sidecar', 'sidecar', 0],
      ['web', 'app', 0],
    ],
    "init, then sidecar, then app; nothing restarted: the app (which exits unless the sidecar is up) started only after the sidecar's startup probe passed",
  );

  const netns = running.netns;
  await running.stop();
  t.notMatch(spawnSync('ip', ['netns', 'list']).stdout.toString(), netns, 'stop removes the network namespace');
});

t.test('a listener on 127.0.0.1 probed on the pod IP never becomes Ready', { skip }, async (t) => {
  const loopback: V1Pod = {
    metadata: { name: 'loopback', namespace: 'default' },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'only-local',
          image: 'busybox:1.37.0',
          command: ['httpd', '-f', '-p', '127.0.0.1:8082', '-h', '/'],
          securityContext: restricted,
          readinessProbe: { tcpSocket: { port: 8082 }, periodSeconds: 1 },
        },
      ],
    },
  };
  const running = await startPod(loopback);
  t.teardown(() => running.stop());
  // Waits on the probe's own failure, not on the clock: once the probe has been refused, the pod is not Ready.
  const failure = await eventually(async () => running.states()[0]?.lastProbeFailure, READY_BOUND_MS, 'a failed readiness probe');
  t.match(failure, /readiness: tcp \S+:8082: connect ECONNREFUSED/, 'the probe is refused on the pod IP');
  t.equal(running.states()[0]?.ready, false, 'not Ready');
  t.equal(
    (await running.exec('only-local', ['wget', '-q', '-O', '-', 'http://127.0.0.1:8082/etc/hostname'])).code,
    0,
    'while the listener answers on loopback inside the pod',
  );
});

t.test('an image the table lacks, and a root container under runAsNonRoot, do not start', { skip }, async (t) => {
  const unknown: V1Pod = { metadata: { name: 'unknown' }, spec: { containers: [{ name: 'x', image: 'example.org/nothing:1' }] } };
  const running = await startPod(unknown);
  t.teardown(() => running.stop());
  await t.rejects(running.waitReady(READY_BOUND_MS), /no host program stands for it/);
  const root: V1Pod = {
    metadata: { name: 'root' },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'x', image: 'busybox:1.37.0', command: ['sleep', '60'], securityContext: { runAsNonRoot: true } }],
    },
  };
  const rootPod = await startPod(root);
  t.teardown(() => rootPod.stop());
  await t.rejects(rootPod.waitReady(READY_BOUND_MS), /runAsNonRoot/);
});

t.test('each program is PID 1 of its container: a stop signal it does not handle ends in SIGKILL, recorded', { skip }, async (t) => {
  // A shell waits for a signal in `wait`, never in a foreground command (which would hold the trap back).
  const handles = "trap 'exit 3' TERM; while :; do sleep 1 & wait $!; done";
  // Ready once PID 1 catches SIGTERM (bit 15 of SigCgt in proc(5)'s status), so the stop never
  // comes before the trap.
  const trapped = {
    exec: { command: ['sh', '-c', 'mask=$(sed -n "s/^SigCgt:[[:space:]]*//p" /proc/1/status); [ $((0x$mask & 0x4000)) -ne 0 ]'] },
    periodSeconds: 1,
  };
  const stopping: V1Pod = {
    metadata: { name: 'stopping' },
    spec: {
      terminationGracePeriodSeconds: 30,
      initContainers: [
        {
          name: 'side',
          image: 'busybox:1.37.0',
          restartPolicy: 'Always',
          command: ['sh', '-c', handles],
          securityContext: restricted,
          startupProbe: trapped,
        },
      ],
      containers: [
        { name: 'handles', image: 'busybox:1.37.0', command: ['sh', '-c', handles], securityContext: restricted, readinessProbe: trapped },
      ],
    },
  };
  const ignoring: V1Pod = {
    metadata: { name: 'ignoring' },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'ignores', image: 'busybox:1.37.0', command: ['sleep', '600'], securityContext: restricted }],
    },
  };
  const [one, two] = await Promise.all([startPod(stopping), startPod(ignoring)]);
  t.teardown(() => Promise.all([one.stop(), two.stop()]));
  await Promise.all([one.waitReady(READY_BOUND_MS), two.waitReady(READY_BOUND_MS)]);
  t.same(
    (await two.exec('ignores', ['cat', '/proc/1/cmdline'])).output.split('\0').slice(-3),
    ['sleep', '600', ''],
    'the program itself (sleep 600) is PID 1 of its pid namespace',
  );
  t.match(
    await one.stop(),
    [
      { name: 'handles', kind: 'app', signal: 'SIGTERM', exitCode: 3, killed: false },
      { name: 'side', kind: 'sidecar', signal: 'SIGTERM', exitCode: 3, killed: false },
    ],
    'a handler exits by itself, and the native sidecar is stopped after the app container',
  );
  t.match(
    await two.stop(),
    [{ name: 'ignores', kind: 'app', signal: 'SIGTERM', killed: true }],
    'PID 1 without a handler ignores SIGTERM sent from outside its namespace (pid_namespaces(7)) and is killed when the grace period ends',
  );
});
