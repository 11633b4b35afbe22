// `npm start`, stopped the way a user or a process manager stops it: by npm's own PID. npm
// does not pass SIGTERM on to its script, so the script execs node (npm's child is the server)
// and the server, started with --exit-with-parent=on, shuts down when npm is gone.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
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

t.test('killing npm start by npm\'s PID stops the server and frees its ports', { skip: built ? false : 'run npm run build first' }, async (t) => {
  const npm = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, PODPATTERN_PORT: '0', PODPATTERN_HEALTH_PORT: '0', PODPATTERN_HOST: '127.0.0.1', PODPATTERN_DRAIN_SECONDS: '0', PODPATTERN_LIVE_CATALOG: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** Set once npm start has logged the server's pid; the teardown kills it if still alive. */
  const server: { pid?: number } = {};
  t.teardown(() => {
    if (npm.pid !== undefined && alive(npm.pid)) npm.kill('SIGKILL');
    if (server.pid !== undefined && alive(server.pid)) process.kill(server.pid, 'SIGKILL');
  });
  const serving = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('npm start did not log "podpattern serving" within 60 s')), 60_000);
    createInterface({ input: npm.stdout }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line['msg'] === 'podpattern serving') {
          clearTimeout(timer);
          resolve(line);
        }
      } catch {
        // npm's own lines
      }
    });
  });
  const serverPid = serving['pid'] as number;
  server.pid = serverPid;
  const port = serving['port'] as number;
  t.ok(await portOpen(port), 'the server listens');
  t.not(serverPid, npm.pid, 'the server is its own process');

  process.kill(npm.pid as number, 'SIGTERM');
  await eventually(() => !alive(serverPid), 120_000, 'the server to exit after npm was killed');
  t.notOk(alive(serverPid), 'the server exited');
  t.notOk(await portOpen(port), 'and its port is free');
});
