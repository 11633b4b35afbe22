// The log normalizer against hostile files, counted in bytes and records: a line that never
// ends, a line whose JSON cannot be written back, a character split at the read boundary, and
// an access-log line built to make a backtracking parser quadratic.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { MAX_LINE_CHARS, pollLogs, type Positions } from '../../src/adapters/log-normalizer.js';
import { combinedScanCost, parseLine } from '../../src/adapters/line-formats.js';
import type { AdapterIo } from '../../src/adapters/poll.js';

const MiB = 1 << 20;

/** A directory and an io that writes records as the real one does: JSON.stringify per record. */
function setup(t: Test, format: 'none' | 'json' | 'nginx' = 'none') {
  const dir = mkdtempSync(join(tmpdir(), 'normalizer-hostile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const diagnostics: string[] = [];
  const io: AdapterIo = { record: (r) => lines.push(JSON.stringify(r)), diagnostic: (message) => diagnostics.push(message) };
  const positions: Positions = new Map();
  const options = { dir, files: '*.log', format, maxFileBytes: 1 << 30 };
  const poll = () => pollLogs(options, positions, io);
  return { dir, lines, diagnostics, positions, poll, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

t.test('a line with no newline is held to MAX_LINE_CHARS, emitted cut with a marker, and the next line is whole', async (t) => {
  const { dir, positions, poll, records, diagnostics } = setup(t);
  const file = join(dir, 'app.log');
  writeFileSync(file, 'first\n' + 'x'.repeat(3 * MiB));
  let held = 0;
  for (let i = 0; i < 4; i += 1) {
    poll();
    held = Math.max(held, (positions.get('app.log')?.partial ?? '').length);
  }
  t.ok(held <= MAX_LINE_CHARS, `at most ${held} characters of an unfinished line held (was the whole 3 MiB)`);
  appendFileSync(file, 'x'.repeat(1000) + '\nafter\n');
  poll();
  const got = records();
  t.same(
    got.map((r) => (r.message as string).slice(0, 5)),
    ['first', 'xxxxx', 'after'],
    'three records: the long line once, cut',
  );
  t.equal(got[1]?.truncated, true, 'the cut line is marked');
  t.ok(String(got[1]?.message).length <= MAX_LINE_CHARS, 'and within the bound');
  t.match(diagnostics.join('\n'), /longer than/, 'the cut is reported');
});

t.test('JSON nested too deep to write back loses its own line at most, never the lines after it', async (t) => {
  const { dir, poll, records } = setup(t, 'json');
  const deep = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000); // 600 KB: over the line bound
  const deepShort = `{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`; // 60 KB: parses, and JSON.stringify overflows the stack
  const after = Array.from({ length: 500 }, (_, i) => JSON.stringify({ n: i })).join('\n');
  writeFileSync(join(dir, 'app.log'), `${JSON.stringify({ n: -1 })}\n${deep}\n${deepShort}\n${after}\n`);
  poll();
  const got = records();
  t.equal(got.length, 503, 'every line gives a record');
  t.same(
    got.filter((r) => typeof r.n === 'number').map((r) => r.n),
    [-1, ...Array.from({ length: 500 }, (_, i) => i)],
    'the 500 lines after them are all there',
  );
  t.match(got[1], { truncated: true, message: /^\{"a":\{"a":/ }, 'the 600 KB line: cut, as text');
  t.match(got[2], { truncated: true, error: /cannot be written as JSON/, message: /^\{"a":\[\[/ }, 'the 60 KB one: its text, with why');
  for (const record of got.slice(1, 3)) t.ok(String(record.message).length <= MAX_LINE_CHARS);
});

t.test('a character split at the 1 MiB read boundary arrives whole', async (t) => {
  const { dir, poll, records } = setup(t);
  const filler = `${'a'.repeat(99)}\n`.repeat(10_000); // 1,000,000 bytes
  const pad = 'b'.repeat(MiB - 1 - filler.length); // the next character starts 1 byte before the boundary
  writeFileSync(join(dir, 'app.log'), `${filler}${pad}€€€\n`);
  poll();
  poll();
  const got = records();
  t.equal(got.length, 10_001);
  t.equal(got.at(-1)?.message, `${pad}€€€`);
  t.notOk(
    got.some((r) => String(r.message).includes('\uFFFD')),
    'no replacement character anywhere',
  );
});

t.test('the combined log format is parsed in one pass: an unterminated quoted request costs work linear in its length', async (t) => {
  for (const size of [1_000, 16_000, 160_000]) {
    const line = `1.2.3.4 - - [02/Jan/2024:03:04:05 +0000] "GET /${'a'.repeat(size)}`; // a regular expression backtracked over every split of the path
    const cost = combinedScanCost(line);
    t.ok(cost <= 4 * line.length, `${line.length} characters: ${cost} characters examined`);
    t.same(parseLine('nginx', line), { fields: { message: line } }, 'not a combined line: kept whole');
  }
  const ordinary = '10.1.2.3 - bob [02/Jan/2024:03:04:05 +0000] "GET /x?q=1 HTTP/1.1" 200 12 "https://ref.example/" "curl/8 (x)"';
  t.same(parseLine('apache2', ordinary), {
    ownTime: '02/Jan/2024:03:04:05 +0000',
    fields: {
      remote: '10.1.2.3',
      user: 'bob',
      method: 'GET',
      path: '/x?q=1',
      protocol: 'HTTP/1.1',
      code: 200,
      size: 12,
      referer: 'https://ref.example/',
      agent: 'curl/8 (x)',
    },
  });
  t.same(
    parseLine('nginx', '10.1.2.3 - - [02/Jan/2024:03:04:05 +0000] "GET /" 304 -'),
    { ownTime: '02/Jan/2024:03:04:05 +0000', fields: { remote: '10.1.2.3', user: '-', method: 'GET', path: '/', code: 304 } },
    'no protocol, no size, no referer and agent',
  );
  t.same(
    parseLine('nginx', '10.1.2.3 - - [02/Jan/2024:03:04:05 +0000] "\\x16\\x03" 400 0'),
    { fields: { message: '10.1.2.3 - - [02/Jan/2024:03:04:05 +0000] "\\x16\\x03" 400 0' } },
    'a request with no method and path is kept whole, as before',
  );
});

t.test('--create makes the named files, 0666 and empty, leaves an existing one alone, and refuses what is not a file name', async (t) => {
  const { run } = await import('../../src/cli/adapter.js');
  const dir = mkdtempSync(join(tmpdir(), 'normalizer-create-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'error.log'), "the app's own\n", { mode: 0o600 });
  const err: string[] = [];
  const diagnostics: string[] = [];
  const io = { stdout: () => undefined, stderr: (s: string) => err.push(s), readStdin: () => '' };
  const adapterIo: AdapterIo = {
    record: () => undefined,
    diagnostic: (message, fields) => diagnostics.push(`${message} ${JSON.stringify(fields)}`),
  };
  const previous = process.umask(0o077); // the mode must not depend on the umask
  try {
    t.equal(
      await run(['log-normalizer', `--dir=${dir}`, '--create=access.log,error.log', '--create-only'], io, adapterIo),
      0,
      err.join(''),
    );
  } finally {
    process.umask(previous);
  }
  t.equal(statSync(join(dir, 'access.log')).mode & 0o777, 0o666, 'access.log created 0666 whatever the umask');
  t.equal(statSync(join(dir, 'access.log')).size, 0, 'and empty');
  t.equal(readFileSync(join(dir, 'error.log'), 'utf8'), "the app's own\n", 'an existing file is left as it is');
  t.equal(statSync(join(dir, 'error.log')).mode & 0o777, 0o600, 'mode included');
  t.match(diagnostics, [/created log files .*"access\.log"/], 'it says which it created');
  for (const bad of ['../escape.log', 'a/b.log', '.hidden', 'a.log,,b.log']) {
    err.length = 0;
    t.equal(
      await run(['log-normalizer', `--dir=${dir}`, `--create=${bad}`, '--create-only'], io, adapterIo),
      2,
      `'${bad}' is a usage error`,
    );
    t.match(err.join(''), /--create takes file names/, 'which says what --create takes');
  }
  err.length = 0;
  t.equal(await run(['storm', '--create=a.log'], io, adapterIo), 2, '--create on another adapter is a usage error');
  t.match(err.join(''), /log-normalizer flags/);
});
