// Bounds as tests: any single review, whatever its content, up to the API server's 3 MiB, is
// decided (a 200 with a decision about the pod, or a 413) with an answer of at most 64 KiB, and
// writes a log line of at most 8 KiB. The app is wired as `podpattern serve` wires it (the real
// engine).
//
// What is asserted holds on any machine: the outcome and the bytes. The time each review takes
// (target: 50 ms of CPU) is a figure of the machine, printed by `npm run bench` (bench/bounds.ts)
// against that target. The one time check here is a ceiling against a hang or a blow-up worse
// than linear: a second of CPU per review, 20 times the worst figure measured on an idle 2-core
// machine (about 50 ms), counted as this process's CPU time so that a loaded machine's waiting
// for a core does not count.
import t from 'tap';
import { inject } from '../../src/engine/index.js';
import { buildApp } from '../../src/server/app.js';
import { testCatalog } from '../helpers/catalog.js';
import { hostileCases } from '../../bench/hostile-reviews.js';
import { bestCpuMs } from '../../bench/cpu.js';
import { testDeps } from './fixtures.js';

const MiB = 1024 * 1024;
const HANG_CEILING_MS = 1000;
const MAX_ANSWER = 64 * 1024;
const MAX_LOG_LINE = 8 * 1024;

t.test('every hostile review: a decision or a 413, answered within 64 KiB, logged within 8 KiB', async (t) => {
  const catalog = testCatalog();
  const deps = testDeps({ inject, catalog: () => catalog, failureMode: 'closed' });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  await app.ready();
  let worstBytes = 0;
  let n = 0;
  const cases = hostileCases(3 * MiB - 64 * 1024);
  for (const { name, body } of cases) {
    const payloads = [body(`bound-${(n += 1)}`), body(`bound-${(n += 1)}`)]; // a warm-up and a measured run, with their own uids
    const payload = payloads[0] as string;
    t.ok(payload.length <= 3 * MiB, `${name}: the review is within 3 MiB (${(payload.length / MiB).toFixed(2)} MiB)`);
    const { result: res, ms } = await bestCpuMs(
      (run) =>
        app.inject({ method: 'POST', url: '/mutate?timeout=10s', headers: { 'content-type': 'application/json' }, payload: payloads[run] }),
      1,
    );
    const answer = res.body;
    worstBytes = Math.max(worstBytes, Buffer.byteLength(answer));
    t.ok(res.statusCode === 200 || res.statusCode === 413, `${name}: a 200 decision or a 413 (got ${res.statusCode})`);
    t.ok(
      ms < HANG_CEILING_MS,
      `${name}: no hang (${ms.toFixed(1)} ms of CPU; ceiling ${HANG_CEILING_MS} ms, the target of 50 ms is the bench's)`,
    );
    t.ok(Buffer.byteLength(answer) < MAX_ANSWER, `${name}: answer of ${Buffer.byteLength(answer)} bytes`);
    if (res.statusCode === 200) {
      const response = JSON.parse(answer).response;
      t.not(response.status?.code, 500, `${name}: a decision about the pod, not an internal error`);
      // A raw control character would be in the JSON as \u001b (JSON.stringify's escape); U+202E as itself.
      t.notMatch(answer, /\\u001b|\\u0007|\u202e/, `${name}: no control or bidi characters echoed raw`);
    }
  }
  const lines = deps.lines();
  const longest = Math.max(...lines.map((l) => JSON.stringify(l).length));
  t.ok(longest < MAX_LOG_LINE, `longest log line ${longest} bytes`);
  t.comment(`over ${cases.length} kinds: ${worstBytes} bytes of answer at most, ${longest} bytes of log line`);
});
