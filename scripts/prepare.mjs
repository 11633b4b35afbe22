// npm's `prepare`: builds dist/ after `npm install` or `npm ci` in a checkout. With
// `--omit=dev` there is no TypeScript, and the build is skipped instead of failing the install
// (a production install of a checkout that was built before, such as the image's deps stage).
// On a Node.js older than package.json's engines.node it stops with how to get the release CI
// and the image use, rather than building on a runtime nothing tests.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { satisfiesEngines } from './node.mjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
if (!satisfiesEngines(process.version, pkg)) {
  console.error(`podpattern needs Node.js ${pkg.engines.node} (package.json engines); this is ${process.version} (${process.execPath}).
To fetch the release CI and the image use (once, from the npm registry, into ~/.cache/podpattern-tools)
and put it first on PATH, run this, then the npm command again:
  export PATH="$(node scripts/node.mjs bin):$PATH"`);
  process.exit(1);
}

try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  console.log('podpattern: TypeScript is not installed (dev dependencies omitted): not building dist/');
  process.exit(0);
}
const built = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(built.status ?? 1);
