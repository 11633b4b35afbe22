// Builds the one native addon, src/server/malloc-trim.c, into dist/src/server/malloc-trim.node,
// with the C compiler (`cc`, or $CC) against the headers of the Node.js running this script
// (<prefix>/include/node, which the official release binaries carry). A Node-API addon links
// against nothing: node provides its symbols when it loads it.
//
// Without a compiler or the headers the build goes on without it, and `podpattern serve` runs
// without trimming (it says so at start), unless PODPATTERN_NATIVE=required (the image build),
// where a missing piece fails the build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const SOURCE = 'src/server/malloc-trim.c';
const OUT = 'dist/src/server/malloc-trim.node';
const required = process.env.PODPATTERN_NATIVE === 'required';

/**
 * Goes on without the addon, or fails the build when it is required.
 * @param {string} reason
 */
function skip(reason) {
  if (required) {
    console.error(`podpattern: cannot build ${OUT} (PODPATTERN_NATIVE=required): ${reason}`);
    process.exit(1);
  }
  console.log(`podpattern: not building ${OUT}, so serve will not trim the C heap: ${reason}`);
  process.exit(0);
}

rmSync(OUT, { force: true });
if (process.platform !== 'linux') skip(`malloc_trim is glibc's, and this is ${process.platform}`);
const headers = join(dirname(dirname(process.execPath)), 'include', 'node');
if (!existsSync(join(headers, 'node_api.h'))) skip(`no Node-API headers at ${headers}`);
const cc = process.env.CC || 'cc';
mkdirSync(dirname(OUT), { recursive: true });
const built = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', OUT, SOURCE], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (built.error) skip(`${cc}: ${built.error.message}`);
if (built.status !== 0) skip(`${cc} exited ${built.status ?? built.signal}`);
