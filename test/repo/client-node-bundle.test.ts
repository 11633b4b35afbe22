// @kubernetes/client-node runs as one bundled module (scripts/bundle-kube.mjs), imported as
// `#kube`: every import goes through it, so a process never loads the package's 2,700 modules
// beside the bundle (or two copies of its classes, where `instanceof ApiException` would fail),
// and the bundle exports all that the package does.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs|js)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

t.test('no code imports the package itself: everything goes through #kube', async (t) => {
  const direct = ['src', 'test', 'bench']
    .flatMap(sources)
    .filter((file) => /from '@kubernetes\/client-node'|import\('@kubernetes\/client-node'\)/.test(readFileSync(file, 'utf8')));
  t.same(direct, []);
});

t.test('#kube is the bundle the build makes, and it exports what the package exports', async (t) => {
  const require = createRequire(join(ROOT, 'package.json'));
  const bundlePath = require.resolve('#kube');
  t.equal(bundlePath, join(ROOT, 'dist/src/vendor/client-node.js'));
  const bundle = (await import(pathToFileURL(bundlePath).href)) as Record<string, unknown>;
  const original = (await import(pathToFileURL(require.resolve('@kubernetes/client-node')).href)) as Record<string, unknown>;
  t.same(Object.keys(bundle).sort(), Object.keys(original).sort());
  const { KubeConfig, ApiException } = bundle as { KubeConfig: new () => object; ApiException: new (...args: unknown[]) => Error };
  t.equal(new KubeConfig().constructor.name, 'KubeConfig', 'class names are kept through minification');
  t.equal(ApiException.name, 'ApiException');
});
