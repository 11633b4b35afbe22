// Bounds as tests: any single review, whatever its content, up to the API server's 3 MiB,
// is answered within 50 ms with at most 64 KiB, and writes a log line of at most 8 KiB. The app
// is wired as `podpattern serve` wires it (the real engine).
//
// The time asserted is this process's CPU time (process.cpuUsage), best of three runs of each
// input: what is measured is the work the input causes, and on a shared machine wall-clock time
// includes however long other processes held the CPU. Wall-clock time is printed beside it.
import t from 'tap';
import { inject } from '../../src/engine/index.js';
import { buildApp } from '../../src/server/app.js';
import { testCatalog } from '../helpers/catalog.js';
import { hostileCases } from '../helpers/hostile-reviews.js';
import { testDeps } from './fixtures.js';

const MiB = 1024 * 1024;
const MAX_MS = 50;
const MAX_ANSWER = 64 * 1024;
const MAX_LOG_LINE = 8 * 1024;

t.test('every hostile review: answered within 50 ms and 64 KiB, logged within 8 KiB', async (t) => {
  const catalog = testCatalog();
  const deps = testDeps({ inject, catalog: () => catalog, failureMode: 'closed' });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  await app.ready();
  let worstMs = 0;
  let worstWall = 0;
  let worstBytes = 0;
  let n = 0;
  const cases = hostileCases(3 * MiB - 64 * 1024);
  for (const { name, body } of cases) {
    let best = Infinity;
    let wall = Infinity;
    let answer = '';
    let status = 0;
    for (let run = 0; run < 3; run += 1) {
      const payload = body(`bound-${(n += 1)}`);
      t.ok(payload.length <= 3 * MiB, `${name}: the review is within 3 MiB (${(payload.length / MiB).toFixed(2)} MiB)`);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const res = await app.inject({ method: 'POST', url: '/mutate?timeout=10s', headers: { 'content-type': 'application/json' }, payload });
      const used = process.cpuUsage(cpu);
      best = Math.min(best, (used.user + used.system) / 1000);
      wall = Math.min(wall, performance.now() - started);
      answer = res.body;
      status = res.statusCode;
    }
    worstMs = Math.max(worstMs, best);
    worstWall = Math.max(worstWall, wall);
    worstBytes = Math.max(worstBytes, Buffer.byteLength(answer));
    t.ok(status === 200 || status === 413, `${name}: a 200 decision or a 413 (got ${status})`);
    t.ok(best < MAX_MS, `${name}: answered in ${best.toFixed(1)} ms of CPU (${wall.toFixed(1)} ms wall)`);
    t.ok(Buffer.byteLength(answer) < MAX_ANSWER, `${name}: answer of ${Buffer.byteLength(answer)} bytes`);
    if (status === 200) {
      const response = JSON.parse(answer).response;
      t.not(response.status?.code, 500, `${name}: a decision about the pod, not an internal error`);
      // A raw control character would be in the JSON as \u001b (JSON.stringify's escape); U+202E as itself.
      t.notMatch(answer, /\\u001b|\\u0007|\u202e/, `${name}: no control or bidi characters echoed raw`);
    }
  }
  const lines = deps.lines();
  const longest = Math.max(...lines.map((l) => JSON.stringify(l).length));
  t.ok(longest < MAX_LOG_LINE, `longest log line ${longest} bytes`);
  t.comment(`worst case over ${cases.length} kinds: ${worstMs.toFixed(1)} ms of CPU, ${worstWall.toFixed(1)} ms wall (best of 3), ${worstBytes} bytes of answer, ${longest} bytes of log line`);
});
