// Giving the C heap's free pages back: the addon gives back what was freed, the timer calls it,
// and `podpattern serve` says at start whether it trims and counts each trim in /metrics.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryTrim, loadMallocTrim } from '../../src/server/memory-trim.js';
import { serve } from '../helpers/process.js';
import { keepSending } from '../helpers/tls.js';
import { httpsProxyReview } from '../helpers/review.js';

t.setTimeout(5 * 60_000);

/** The build makes the addon wherever a C compiler answers (scripts/native.mjs). */
const compiler = spawnSync(process.env.CC || 'cc', ['--version'], { stdio: 'ignore' }).status === 0;

t.test('the addon: built here when a C compiler is found; a missing or broken one is reported, not thrown', async (t) => {
  const here = loadMallocTrim();
  if (compiler) {
    t.ok('trimmer' in here, `npm run build made it and it loads${'unavailable' in here ? `: ${here.unavailable}` : ''}`);
    if ('trimmer' in here) t.type(here.trimmer.trim(), 'boolean');
  } else {
    t.match(here, { unavailable: /was not built/ }, 'without a compiler: unavailable, with the reason');
  }

  const empty = mkdtempSync(join(tmpdir(), 'podpattern-trim-'));
  t.match(loadMallocTrim(empty), { unavailable: /malloc-trim\.node was not built/ });
  writeFileSync(join(empty, 'malloc-trim.node'), 'not a shared object');
  t.match(loadMallocTrim(empty), { unavailable: /malloc-trim\.node did not load: / });
});

t.test(
  'the addon gives back the pages of memory freed amid memory still in use',
  { skip: !compiler && 'no C compiler: the addon is not built' },
  async (t) => {
    const loaded = loadMallocTrim();
    if (!('path' in loaded)) return t.fail(`not loaded: ${loaded.unavailable}`);
    // In a process of its own with the chart's one arena: 1,000 buffers of 64 KiB from malloc
    // (below glibc's 128 KiB mmap threshold, so in the arena), every tenth kept; the rest freed
    // by the collector leave holes that free(3) cannot give back and malloc_trim can. Measured as
    // the process's resident memory, not the [heap] mapping alone: where brk cannot grow the main
    // arena, glibc maps more of it anonymously.
    const script = `
    const { trim } = require(${JSON.stringify(loaded.path)});
    const MiB = 1024 * 1024;
    let buffers = Array.from({ length: 1000 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
    const kept = buffers.filter((_, i) => i % 10 === 0);
    buffers = undefined;
    (async () => {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((resolve) => setImmediate(resolve)); }
      const before = process.memoryUsage.rss() / MiB;
      const released = trim();
      console.log(JSON.stringify({ before, after: process.memoryUsage.rss() / MiB, released, kept: kept.length }));
    })();`;
    const ran = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, MALLOC_ARENA_MAX: '1', NODE_OPTIONS: '' },
    });
    t.equal(ran.status, 0, ran.stderr);
    const seen = JSON.parse(ran.stdout) as { before: number; after: number; released: boolean };
    t.equal(seen.released, true, 'malloc_trim says memory was given back');
    const fell = seen.before - seen.after;
    // 900 buffers of 64 KiB freed: about 56 MiB in holes, of which the whole pages go back.
    t.ok(fell > 30, `resident memory fell by most of the 56 MiB freed (${seen.before.toFixed(1)} -> ${seen.after.toFixed(1)} MiB)`);
  },
);

t.test('MemoryTrim calls the trimmer on its timer and reports each call', async (t) => {
  const results = [true, false, true];
  const seen: boolean[] = [];
  let calls = 0;
  const done = new Promise<void>((resolve) => {
    const trim = new MemoryTrim({
      trimmer: { trim: () => results[calls++ % results.length]! },
      everyMs: 5,
      onTrim: (released) => {
        seen.push(released);
        if (seen.length === 3) {
          trim.stop();
          resolve();
        }
      },
    });
    trim.start();
    trim.start(); // a second start keeps the one timer
  });
  // The trim timer keeps no process alive (unref): this one keeps the test's alive meanwhile.
  const alive = setInterval(() => undefined, 1000);
  await done;
  clearInterval(alive);
  t.same(seen, [true, false, true]);
  t.equal(calls, 3, 'stopped on the third call');
});

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) =>
    httpGet({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve(body));
    }).on('error', reject),
  );
}

t.test('serve trims every --memory-trim-seconds and counts it; 0 turns it off', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-trim-serve-'));
  const server = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', '--memory-trim-seconds=1'], { cwd });
  t.teardown(() => void server.child.kill('SIGKILL'));
  const started = await server.waitFor((l) => l.msg === 'podpattern serving');
  if (!compiler) {
    t.match(started.memoryTrim, /^unavailable: /, 'without the addon it says so, and serves');
    return;
  }
  t.equal(started.memoryTrim, 'every 1 s');
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  const sending = keepSending({ port: started.port as number, ca, clients: 4, body: (n) => JSON.stringify(httpsProxyReview(`uid-${n}`)) });
  t.teardown(() => sending.stop());
  // Each wait is on what /metrics says, not on the clock: a trim comes within a second of the
  // last, and start-up alone leaves tens of megabytes free in the heap to give back.
  const healthPort = started.healthPort as number;
  let text = '';
  const deadline = Date.now() + 60_000; // only ends a hang: a trim is due every second
  while (!/^podpattern_memory_trims_total\{released="true"\} [1-9]/m.test(text)) {
    if (Date.now() > deadline) return t.fail(`no trim gave memory back within 60 s:\n${text}`);
    text = await metrics(healthPort);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await sending.stop();
  t.same(sending.errors, [], 'reviews answered while it trims');
  t.ok(sending.results.length > 0 && sending.results.every((r) => r.status === 200), `${sending.results.length} reviews, each 200`);
  t.match(text, /# HELP podpattern_memory_trims_total /);

  const off = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', '--memory-trim-seconds=0'], { cwd });
  t.teardown(() => void off.child.kill('SIGKILL'));
  t.match(await off.waitFor((l) => l.msg === 'podpattern serving'), { memoryTrim: 'off (--memory-trim-seconds=0)' });
});
