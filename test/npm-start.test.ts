// `npm start`, stopped the way a user or a process manager stops it: by npm's own PID. npm
// does not pass SIGTERM on to its script, so the script execs node (npm's child is the server)
// and the server, started with --exit-with-parent=on, shuts down when npm is gone. And
// `npm start` without a cluster gives the pod `podpattern inject` gives.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastJsonPatch from 'fast-json-patch';
import { httpsCall } from './helpers/tls.js';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const built = spawnSync('test', ['-f', `${root}dist/src/bin/podpattern.js`]).status === 0;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => (socket.destroy(), resolve(true)));
    socket.on('error', () => resolve(false));
  });
}

/** Polls `check` until it holds; fails loudly after `ms` (generous: the machine is shared). */
async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `npm start` with `env` added, and resolves with its pid and its "podpattern serving" line once it logs it. */
function npmStart(
  t: Test,
  env: Record<string, string>,
): Promise<{ npm: ReturnType<typeof spawn>; serving: Record<string, unknown>; lines: Record<string, unknown>[] }> {
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: {
      ...process.env,
      PODPATTERN_PORT: '0',
      PODPATTERN_HEALTH_PORT: '0',
      PODPATTERN_HOST: '127.0.0.1',
      PODPATTERN_DRAIN_SECONDS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  t.teardown(() => {
    const server = lines.find((line) => line['msg'] === 'podpattern serving')?.['pid'] as number | undefined;
    if (npm.pid !== undefined && alive(npm.pid)) npm.kill('SIGKILL');
    if (server !== undefined && alive(server)) process.kill(server, 'SIGKILL');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start did not log "podpattern serving" within 60 s:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)),
      60_000,
    );
    createInterface({ input: npm.stdout }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        if (line['msg'] === 'podpattern serving') {
          clearTimeout(timer);
          resolve({ npm, serving: line, lines });
        }
      } catch {
        // npm's own lines
      }
    });
  });
}

t.test(
  "killing npm start by npm's PID stops the server and frees its ports",
  { skip: built ? false : 'run npm run build first' },
  async (t) => {
    const { npm, serving } = await npmStart(t, { PODPATTERN_LIVE_CATALOG: 'off' });
    const serverPid = serving['pid'] as number;
    const port = serving['port'] as number;
    t.ok(await portOpen(port), 'the server listens');
    t.not(serverPid, npm.pid, 'the server is its own process');

    process.kill(npm.pid as number, 'SIGTERM');
    await eventually(() => !alive(serverPid), 120_000, 'the server to exit after npm was killed');
    t.notOk(alive(serverPid), 'the server exited');
    t.notOk(await portOpen(port), 'and its port is free');
  },
);

/** A pod as a Job's controller creates it, one as a Deployment's does, each asking for a sidecar. */
const PODS = [
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'render-site-x7k2p',
      namespace: 'default',
      ownerReferences: [
        { apiVersion: 'batch/v1', kind: 'Job', name: 'render-site', uid: '5d6f1c2a-0000-4000-8000-000000000001', controller: true },
      ],
      annotations: { 'podpattern.dev/sidecar': 'git-sync', 'git-sync.podpattern.dev/repo': 'https://github.com/example/site.git' },
    },
    spec: { restartPolicy: 'Never', containers: [{ name: 'render', image: 'example.org/render:1.0' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-5d8c7-abcde',
      namespace: 'default',
      annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' },
    },
    spec: { containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ containerPort: 8080 }] }] },
  },
];

t.test(
  'npm start without a cluster gives the pod podpattern inject gives',
  { skip: built ? false : 'run npm run build first' },
  async (t) => {
    // No credentials anywhere: a home without ~/.kube, no KUBECONFIG, not in a pod.
    const home = mkdtempSync(join(tmpdir(), 'podpattern-home-'));
    const env = { ...process.env, HOME: home, PODPATTERN_LIVE_CATALOG: 'auto' } as Record<string, string>;
    delete env['KUBECONFIG'];
    delete env['KUBERNETES_SERVICE_HOST'];
    const { serving, lines } = await npmStart(t, env);
    const assumed = lines.find((line) => line['assumedServerVersion'] !== undefined);
    t.equal(assumed?.['assumedServerVersion'], '1.30', `the assumption is logged at start: ${String(assumed?.['msg'])}`);
    const ca = readFileSync(join(root, 'certs', 'ca.crt'), 'utf8');
    for (const pod of PODS) {
      const answer = await httpsCall({
        port: serving['port'] as number,
        ca,
        body: JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid: pod.metadata.name,
            kind: { group: '', version: 'v1', kind: 'Pod' },
            namespace: 'default',
            operation: 'CREATE',
            object: pod,
          },
        }),
      });
      const response = (JSON.parse(answer.body) as { response: { allowed: boolean; patch?: string; status?: { message?: string } } })
        .response;
      t.ok(response.allowed, `${pod.metadata.name}: admitted by the server (${response.status?.message ?? ''})`);
      const patch = JSON.parse(Buffer.from(response.patch ?? 'W10=', 'base64').toString('utf8')) as fastJsonPatch.Operation[];
      const served = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;

      const cli = spawnSync(process.execPath, [`${root}dist/src/bin/podpattern.js`, 'inject', '-f', '-', '-o', 'json'], {
        input: JSON.stringify(pod),
        encoding: 'utf8',
        env,
      });
      t.equal(cli.status, 0, `${pod.metadata.name}: podpattern inject exits 0 (${cli.stderr})`);
      const injected = JSON.parse(cli.stdout) as typeof pod;
      t.ok(
        (served.spec as { initContainers?: unknown[] }).initContainers?.length,
        `${pod.metadata.name}: the sidecar is a native one (an init container)`,
      );
      t.same(served, injected, `${pod.metadata.name}: the same pod from both`);
    }
  },
);
