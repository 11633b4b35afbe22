// The bench's reading of where a serve's resident memory is, against a real Node process that
// grows its V8 heap by a known amount between two readings.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { describeMemoryParts, memoryParts } from '../../bench/memory-parts.js';
import { eventually } from '../helpers/eventually.js';

// A child that keeps about 40 MB of small objects alive when told to, and says when it has.
const CHILD = `
process.on('message', (what) => {
  if (what === 'grow') globalThis.kept = Array.from({ length: 500000 }, (_, i) => ({ i, name: 'object ' + i }));
  process.send('done');
});
process.send('ready');
`;

const METRICS = [
  '# TYPE nodejs_heap_size_total_bytes gauge',
  'nodejs_heap_size_total_bytes 47185920',
  'nodejs_heap_size_used_bytes 31457280',
].join('\n');

t.test('the parts of a real process, and V8 pages growing with its heap', async (t) => {
  const child = fork('-e', [CHILD], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child, 'message');
  const before = memoryParts(child.pid!, METRICS);
  t.ok(before.binary > 5, `the node binary's pages are resident (${before.binary.toFixed(1)} MiB)`);
  t.ok(before.v8Pages > 0, `V8 has pages (${before.v8Pages.toFixed(1)} MiB)`);
  t.equal(before.heapCommitted, 45, "V8's committed heap as /metrics says, in MiB");
  t.equal(before.heapUsed, 30, "V8's heap in use as /metrics says, in MiB");
  child.send('grow');
  await once(child, 'message');
  // Stopped, none of the child's threads (V8's concurrent sweepers among them) can change its
  // memory between reading its mappings and reading the kernel's total.
  child.kill('SIGSTOP');
  await eventually('the child stopped', async () => (processState(child.pid!) === 'T' ? true : undefined), 10_000, 5);
  const after = memoryParts(child.pid!, METRICS);
  t.ok(after.v8Pages - before.v8Pages > 25, `40 MB of objects kept: V8's pages grew by ${(after.v8Pages - before.v8Pages).toFixed(1)} MiB`);
  const vmRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
  const total = after.binary + after.v8Pages + after.malloc + after.rest;
  t.ok(
    Math.abs(total - vmRss) < vmRss * 0.05,
    `the parts add up to the kernel's VmRSS (${total.toFixed(1)} against ${vmRss.toFixed(1)} MiB)`,
  );
  child.kill('SIGCONT');
  t.match(
    describeMemoryParts(after),
    /^the node binary's pages \d+ MB, V8's pages \d+ \(its heap 45 committed, 30 in use\), glibc's heap \d+, the rest \d+$/,
  );
});

t.test('a process without the metrics: its heap figures are not numbers, not zero', async (t) => {
  const parts = memoryParts(process.pid, '');
  t.ok(Number.isNaN(parts.heapCommitted) && Number.isNaN(parts.heapUsed));
  t.ok(parts.binary > 0);
});

/** The kernel's one-letter state of a process (T: stopped), from /proc/<pid>/stat. */
function processState(pid: number): string | undefined {
  return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
}
