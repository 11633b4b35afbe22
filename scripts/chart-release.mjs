// Stamps a release into the chart before `helm package`: Chart.yaml's version and appVersion,
// and the image digest the release workflow pushed as values.yaml's image.digest, so the
// packaged chart installs exactly the image built with it. Comments and layout are kept (the
// yaml library's Document API).
//   node scripts/chart-release.mjs VERSION sha256:DIGEST [CHART_DIR]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

const [version, digest, dir = 'helm/podpattern'] = process.argv.slice(2);
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version ?? '') || !/^sha256:[a-f0-9]{64}$/.test(digest ?? '')) {
  console.error('usage: node scripts/chart-release.mjs VERSION sha256:DIGEST [CHART_DIR]   (VERSION without a leading v)');
  process.exit(2);
}

/**
 * @param {string} file
 * @param {(document: import('yaml').Document) => void} change
 */
function edit(file, change) {
  const document = parseDocument(readFileSync(file, 'utf8'));
  change(document);
  writeFileSync(file, document.toString());
}

edit(join(dir, 'Chart.yaml'), (chart) => {
  chart.set('version', version);
  chart.set('appVersion', version);
});
edit(join(dir, 'values.yaml'), (values) => values.setIn(['image', 'digest'], digest));
console.log(`chart ${dir}: version ${version}, image digest ${digest}`);
