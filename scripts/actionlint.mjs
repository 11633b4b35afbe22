// Lints .github/workflows with actionlint (which also runs shellcheck on `run:` steps when
// shellcheck is installed). actionlint is a Go program: it is built once from the Go module
// proxy into a cache outside the repository (PODPATTERN_TOOLS_CACHE, default
// ~/.cache/podpattern-tools) and reused. Prints the linter's findings and exits with its status;
// exits 3 when Go is missing, so a test can tell "cannot lint here" from "lint failed".
//   node scripts/actionlint.mjs [FILES...]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const ACTIONLINT_VERSION = 'v1.7.12';

const cache = process.env.PODPATTERN_TOOLS_CACHE || join(homedir(), '.cache', 'podpattern-tools');
const bin = join(cache, `actionlint-${ACTIONLINT_VERSION}`);
const binary = join(bin, 'actionlint');

function findGo() {
  for (const candidate of [process.env.GO, 'go', '/usr/local/go/bin/go']) {
    if (candidate && spawnSync(candidate, ['version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

if (!existsSync(binary)) {
  const go = findGo();
  if (go === undefined) {
    console.error('actionlint: Go is not installed (needed once to build actionlint); install Go or set GO=/path/to/go');
    process.exit(3);
  }
  mkdirSync(bin, { recursive: true });
  console.error(`actionlint: building ${ACTIONLINT_VERSION} into ${bin} (once)`);
  const built = spawnSync(go, ['install', `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      GOBIN: bin,
      GOPATH: join(cache, 'gopath'),
      GOMODCACHE: join(cache, 'gomodcache'),
      GOFLAGS: '-modcacherw',
      CGO_ENABLED: '0',
    },
  });
  if (built.status !== 0) {
    console.error('actionlint: the build failed (is the Go module proxy reachable?)');
    process.exit(3);
  }
}

const result = spawnSync(binary, ['-no-color', '-oneline', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
