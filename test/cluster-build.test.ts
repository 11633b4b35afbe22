// test/e2e/cluster/build.sh with a stand-in for `go`: what the script does around a build
// (the lock, the progress ticker, the partial folder moved into place, the stamp, the cache
// check) runs for real; only the compiler is replaced, by a script that writes binaries
// answering --version. A build that succeeds must leave a cached, stamped folder and exit 0.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../test/e2e/cluster/build.sh', import.meta.url));

/** A `go` that reports Go 1.26 and "builds" each package named last on its command line as a shell script. */
function fakeGo(dir: string): string {
  const go = join(dir, 'go');
  writeFileSync(
    go,
    [
      '#!/usr/bin/env bash',
      'if [ "$1 $2" = "env GOVERSION" ]; then echo go1.26.8; exit 0; fi',
      '[ "$1" = build ] || { echo "fake go: unexpected $*" >&2; exit 2; }',
      'out=""; prev=""',
      'for arg in "$@"; do [ "$prev" = -o ] && out=$arg; prev=$arg; done',
      // A module's major-version suffix is not the binary's name: go.etcd.io/etcd/server/v3 builds `server`.
      'pkg=${!#}; name=${pkg##*/}; case $name in v[0-9]*) pkg=${pkg%/*}; name=${pkg##*/} ;; esac',
      'printf "#!/bin/sh\\necho %s fake\\n" "$name" > "$out$name"; chmod +x "$out$name"',
    ].join('\n') + '\n',
  );
  chmodSync(go, 0o755);
  return go;
}

t.test('a successful build is moved into place, stamped, and found cached by the next run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'podpattern-build-'));
  t.teardown(() => spawnSync('rm', ['-rf', dir]));
  const env = { ...process.env, GO: fakeGo(dir), PODPATTERN_E2E_CACHE: join(dir, 'cache') };

  const first = spawnSync('bash', [script, 'etcd'], { env, encoding: 'utf8' });
  t.equal(first.status, 0, `build.sh etcd exits 0 (stderr: ${first.stderr})`);
  t.match(first.stderr, /built etcd-v[0-9.]+ in \d+ s/);
  t.match(first.stderr, /control planes ready in \d+ s/);
  const entries = readdirSync(join(dir, 'cache'));
  const built = entries.find((name) => /^etcd-v[0-9.]+$/.test(name));
  t.ok(built, `a folder etcd-<version> in the cache (found: ${entries.join(', ')})`);
  t.same(
    entries.filter((name) => name.includes('.partial.')),
    [],
    'no partial folder left behind',
  );
  t.ok(existsSync(join(dir, 'cache', built ?? '', '.stamp')), 'the build is stamped');

  const second = spawnSync('bash', [script, 'etcd'], { env, encoding: 'utf8' });
  t.equal(second.status, 0, 'the second run exits 0');
  t.match(second.stderr, /etcd v[0-9.]+: cached in /, 'and reuses the cache instead of building');
  t.end();
});
