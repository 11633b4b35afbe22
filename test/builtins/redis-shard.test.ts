// redis-shard in a real pod (test/podrunner): a busybox init container writes twemproxy's
// config, twemproxy listens on 127.0.0.1 and spreads keys over two real redis-server shards
// listening on the host end of the pod's veth. The "app" relays the pod IP to the proxy, so the
// test talks Redis from outside the pod and then asks each shard what it holds.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { eventually, injectedPod, podRunnerSkip, relayApp, runUntilReady, stopCleanly } from '../podrunner/builtin.js';

const run = promisify(execFile);

async function redisCli(host: string, port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', host, '-p', String(port), ...command])).stdout.trim();
}

function redisServer(host: string, port: number): ChildProcess {
  return spawn('redis-server', ['--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: 'ignore',
  });
}

t.test(
  'redis-shard spreads keys over two real Redis shards',
  { skip: podRunnerSkip(['nutcracker', 'busybox', 'socat', 'redis-server', 'redis-cli']) },
  async (t) => {
    const relay = relayApp('REDIS', 6380);
    // Each pod has its own host address, so fixed ports there never collide between runs.
    const pod = injectedPod(
      'ambassador',
      'redis-shard',
      { shards: 'redis-0.redis.default.svc.cluster.local:16379,redis-1.redis.default.svc.cluster.local:16380' },
      { containers: [relay] },
      'always',
    );
    const running = await runUntilReady(t, pod, {
      hostNames: ['redis-0.redis.default.svc.cluster.local', 'redis-1.redis.default.svc.cluster.local'],
    });
    t.match(
      running.states(),
      [
        { name: 'redis-shard-config', kind: 'init' },
        { name: 'redis-shard', kind: 'sidecar' },
        { name: 'app', kind: 'app', restarts: 0 },
      ],
      'twemproxy is a native sidecar, Ready before the app, which connects to it as it starts and never restarts',
    );
    const shards = [redisServer(running.hostIp, 16379), redisServer(running.hostIp, 16380)];
    t.teardown(() => {
      for (const shard of shards) shard.kill();
    });
    for (const port of [16379, 16380])
      await eventually(
        async () => ((await redisCli(running.hostIp, port, 'PING')) === 'PONG' ? true : undefined),
        60_000,
        `shard ${port} up`,
      );

    // twemproxy reconnects to a shard after server_retry_timeout (2 s), so the first writes may fail.
    await eventually(
      async () => ((await redisCli(running.ip, 6380, 'SET', 'probe', '1')) === 'OK' ? true : undefined),
      60_000,
      'a write through the proxy',
    );
    const keys = Array.from({ length: 100 }, (_, i) => `user:${i}`);
    const replies: string[] = [];
    for (const key of keys) replies.push(await redisCli(running.ip, 6380, 'SET', key, `value-${key}`));
    t.same(new Set(replies), new Set(['OK']), `${keys.length} SETs through the proxy answered OK`);
    const counts = await Promise.all([16379, 16380].map(async (port) => Number(await redisCli(running.hostIp, port, 'DBSIZE'))));
    t.comment(`keys per shard: ${counts.join(', ')}`);
    t.equal(counts[0]! + counts[1]!, keys.length + 1, 'every key landed on exactly one shard');
    t.ok(
      counts.every((count) => count >= 20),
      'both shards hold a fair part of the keys',
    );
    t.equal(await redisCli(running.ip, 6380, 'GET', 'user:42'), 'value-user:42', 'reads come back through the proxy');
    await stopCleanly(t, running);
  },
);
