// Bundles @kubernetes/client-node into one ES module, dist/src/vendor/client-node.js, which the
// code imports as `#kube` (package.json "imports"; types from the package itself).
//
// The package is 2,700 ES modules (2,556 generated models alone), and Node holds about 11 KB of
// its own for every module it loads beside the code: importing the package took a bare Node 24
// process from 44 to about 130 MB resident, and the same code as one minified module to 96
// (bench/RESULTS.md, "client-node in one module"). Its own dependencies (js-yaml, ws,
// openid-client, ...) stay outside, imported from node_modules as before. Names are kept, so an
// error's class (ApiException, ...) reads as it does in the package.
import { build } from 'esbuild';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const entry = require.resolve('@kubernetes/client-node');

await build({
  entryPoints: [entry],
  outfile: 'dist/src/vendor/client-node.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  packages: 'external',
  minify: true,
  keepNames: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
