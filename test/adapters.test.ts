// The adapters' parts that need no pod: the RESP reply parser, the line formats, the log
// normalizer's bookkeeping on a real directory, and the command's usage errors. The adapters run
// end to end in real pods in test/builtins.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pollLogs, type Positions } from '../src/adapters/log-normalizer.js';
import { parseLine } from '../src/adapters/line-formats.js';
import { encodeCommand, parseReply, RespError } from '../src/adapters/resp.js';
import type { AdapterIo } from '../src/adapters/poll.js';
import { run } from '../src/cli/adapter.js';

t.test('RESP: commands encode as arrays of bulk strings; replies parse whole or not at all', async (t) => {
  t.equal(encodeCommand(['SLOWLOG', 'GET', '10']).toString(), '*3\r\n$7\r\nSLOWLOG\r\n$3\r\nGET\r\n$2\r\n10\r\n');
  const reply = Buffer.from(
    '*1\r\n*6\r\n:14\r\n:1700000000\r\n:27197\r\n*2\r\n$4\r\nEVAL\r\n$1\r\n0\r\n$15\r\n127.0.0.1:53422\r\n$0\r\n\r\n',
  );
  t.same(parseReply(reply)?.value, [[14, 1700000000, 27197, ['EVAL', '0'], '127.0.0.1:53422', '']]);
  t.equal(parseReply(reply.subarray(0, reply.length - 3)), undefined, 'an incomplete reply waits for more');
  t.type(parseReply(Buffer.from('-ERR unknown command\r\n'))?.value, RespError);
  t.same(parseReply(Buffer.from('$-1\r\n'))?.value, null);
  t.throws(() => parseReply(Buffer.from('?what\r\n')), /not a RESP reply/);
});

t.test("line formats keep the line's own timestamp", async (t) => {
  t.same(parseLine('none', '2024-01-02T03:04:05Z started'), { ownTime: '2024-01-02T03:04:05Z', fields: { message: 'started' } });
  t.same(parseLine('none', 'no time here'), { fields: { message: 'no time here' } });
  t.same(parseLine('json', '{"ts":"2024-01-02T03:04:05Z","level":"warn"}'), { ownTime: '2024-01-02T03:04:05Z', fields: { level: 'warn' } });
  t.same(parseLine('json', 'not json'), { fields: { message: 'not json' } });
  t.same(parseLine('ltsv', 'time:2024-01-02\thost:a'), { ownTime: '2024-01-02', fields: { host: 'a' } });
  t.match(parseLine('nginx', '10.1.2.3 - - [02/Jan/2024:03:04:05 +0000] "GET /x HTTP/1.1" 200 12 "-" "curl/8"'), {
    ownTime: '02/Jan/2024:03:04:05 +0000',
    fields: { remote: '10.1.2.3', method: 'GET', path: '/x', code: 200, size: 12, agent: 'curl/8' },
  });
  t.match(parseLine('apache_error', '[Tue Jan 02 03:04:05.123 2024] [core:error] [pid 7] [client 10.1.2.3:5] File does not exist'), {
    ownTime: 'Tue Jan 02 03:04:05.123 2024',
    fields: { level: 'core:error', pid: 7, message: 'File does not exist' },
  });
  t.match(parseLine('syslog', 'Jan  2 03:04:05 web1 sshd[42]: Accepted key'), {
    ownTime: 'Jan  2 03:04:05',
    fields: { host: 'web1', ident: 'sshd', pid: 42, message: 'Accepted key' },
  });
});

t.test('the log normalizer follows files, waits for whole lines and starts over on truncation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'normalizer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const records: Record<string, unknown>[] = [];
  const io: AdapterIo = { record: (r) => records.push(r), diagnostic: () => undefined };
  const positions: Positions = new Map();
  const options = { dir, files: '*.log', format: 'none' as const, maxFileBytes: 1 << 30 };
  writeFileSync(join(dir, 'a.log'), '2024-01-01T00:00:00Z one\n2024-01-01T00:00:01Z tw');
  writeFileSync(join(dir, 'ignored.txt'), 'not matched\n');
  pollLogs(options, positions, io);
  t.same(
    records.map((r) => r.message),
    ['one'],
    'a line without its newline waits',
  );
  appendFileSync(join(dir, 'a.log'), 'o\n');
  pollLogs(options, positions, io);
  t.same(
    records.map((r) => [r.time, r.message, r.file]),
    [
      ['2024-01-01T00:00:00Z', 'one', 'a.log'],
      ['2024-01-01T00:00:01Z', 'two', 'a.log'],
    ],
  );
  writeFileSync(join(dir, 'a.log'), 'after truncation\n');
  pollLogs(options, positions, io);
  t.equal(records.at(-1)?.message, 'after truncation', 'a file that shrank is read from the start');
});

t.test('adapter usage errors exit 2 with the reason', async (t) => {
  const errors: string[] = [];
  const io = { stdout: () => undefined, stderr: (text: string) => errors.push(text), readStdin: () => '' };
  const quiet: AdapterIo = { record: () => undefined, diagnostic: () => undefined };
  t.equal(await run(['nothing'], io, quiet), 2);
  t.match(errors.join(''), /give one KIND/);
  t.equal(await run(['log-normalizer'], io, quiet), 2);
  t.match(errors.join(''), /--dir is required/);
  t.equal(await run(['storm', '--url=file:///etc/passwd'], io, quiet), 2);
  t.match(errors.join(''), /--url must be an http\(s\) URL/);
  t.equal(await run(['redis-slowlog', '--interval=0'], io, quiet), 2);
  t.match(errors.join(''), /--interval must be an integer from 1/);
  const controller = new AbortController();
  controller.abort();
  t.equal(await run(['redis-slowlog', '--redis-port=1'], io, quiet, controller.signal), 0, 'an aborted adapter stops with 0');
});

t.test('the adapter templates run the image of this very version', async (t) => {
  const { loadBuiltinTemplates } = await import('../src/catalog/index.js');
  const { readFileSync } = await import('node:fs');
  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const adapters = loadBuiltinTemplates().templates.filter((template) =>
    template.spec.containers.some((c) => c.image?.startsWith('ghcr.io/podpattern/podpattern:')),
  );
  t.same(adapters.map((a) => a.name).sort(), ['log-normalizer', 'redis-slowlog', 'storm-logs']);
  for (const adapter of adapters)
    t.equal(
      adapter.spec.containers[0]?.image,
      `ghcr.io/podpattern/podpattern:${version}`,
      `${adapter.name}: the release's own tag, so the adapter and the webhook move together`,
    );
});
