// npm's `prepare`: builds dist/ after `npm install` or `npm ci` in a checkout. With
// `--omit=dev` there is no TypeScript, and the build is skipped instead of failing the install
// (a production install of a checkout that was built before, such as the image's deps stage).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  console.log('podpattern: TypeScript is not installed (dev dependencies omitted): not building dist/');
  process.exit(0);
}
const built = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(built.status ?? 1);
