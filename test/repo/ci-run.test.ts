// `.ci/run` is what CI runs on every push: it passes shellcheck (installed by `.ci/run` itself),
// and when a test fails, .ci/failed.awk turns tap's output into where and why each test failed,
// printed last before the count so that a log read from its end names the failure.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const shellcheck = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
const noShellcheck = shellcheck.status === 0 ? false : 'shellcheck is not installed (.ci/run installs it from apt)';

t.test('.ci/run passes shellcheck', { skip: noShellcheck }, async (t) => {
  const run = spawnSync('shellcheck', ['.ci/run'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(run.status, 0, run.stdout + run.stderr);
});

/** What tap 21 prints for a file with one failing assertion in a subtest (no terminal). */
const FAILED_RUN = `TAP version 14
# Subtest: test/zz-fail.test.ts
    # Subtest: a group
        ok 1 - fine
        not ok 2 - the pod becomes ready
          ---
          compare: ===
          at:
            fileName: test/zz-fail.test.ts
            lineNumber: 4
            columnNumber: 5
            typeName: Test
          stack: |
            Test.<anonymous> (test/zz-fail.test.ts:4:5)
            test/zz-fail.test.ts:2:3
          source: |
            t.test('a group', async (t) => {
              t.equal('Pending', 'Running', 'the pod becomes ready');
            ----^
            });
          diff: |
            --- expected
            +++ actual
            @@ -1,1 +1,1 @@
            -Running
            +Pending
          ...

        1..2
    not ok 1 - a group # time=20.651ms
      ---
      at:
        fileName: test/zz-fail.test.ts
        lineNumber: 2
        columnNumber: 3
        isToplevel: true
      ...

    1..1
not ok 1 - test/zz-fail.test.ts # time=32.314ms
  ---
  stdio: inherit
  cwd: /work/podpattern
  command: /usr/local/bin/node
  args:
    - --enable-source-maps
    - /work/podpattern/test/zz-fail.test.ts
  exitCode: 1
  signal: null
  ...

# { total: 2, pass: 1, fail: 1 }
`;

/** .ci/failed.awk run on `log`, as `.ci/run` runs it. */
function failedAwk(log: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('awk', ['-f', '.ci/failed.awk'], { cwd: ROOT, input: log, encoding: 'utf8' });
}

t.test('.ci/failed.awk names each failing test with where and why, without stacks or command lines', async (t) => {
  const run = failedAwk(FAILED_RUN);
  t.equal(run.status, 0, run.stderr);
  const lines = run.stdout.split('\n').map((line) => line.trim());
  t.same(
    lines.filter((line) => line.startsWith('not ok')),
    ['not ok 2 - the pod becomes ready', 'not ok 1 - a group # time=20.651ms', 'not ok 1 - test/zz-fail.test.ts # time=32.314ms'],
  );
  t.ok(lines.includes('fileName: test/zz-fail.test.ts') && lines.includes('lineNumber: 4'), 'where the assertion is');
  t.ok(lines.includes('-Running') && lines.includes('+Pending'), 'the diff of found and wanted');
  t.ok(lines.includes('exitCode: 1'), "the file's exit code");
  for (const dropped of ['stack: |', 'source: |', 'args:', 'command: /usr/local/bin/node', 'compare: ===', '- --enable-source-maps']) {
    t.notOk(lines.includes(dropped), `no "${dropped}"`);
  }
  t.notOk(
    lines.some((line) => line.startsWith('ok ') || line.startsWith('# {')),
    'no passing test and no summary',
  );
});

t.test('a passing run gives nothing to print', async (t) => {
  const run = failedAwk('TAP version 14\nok 1 - a file\n# { total: 1, pass: 1 }\n');
  t.equal(run.status, 0);
  t.equal(run.stdout, '');
});
