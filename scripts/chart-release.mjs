// Stamps a release into the chart before `helm package`: Chart.yaml's version and appVersion,
// and the image digest the release workflow pushed as values.yaml's image.digest, so the
// packaged chart installs exactly the image built with it; with --repository, also the image
// repository it was pushed to (a fork's registry, or the e2e rehearsal's on loopback). Comments
// and layout are kept (the yaml library's Document API).
//   node scripts/chart-release.mjs VERSION sha256:DIGEST [CHART_DIR] [--repository REGISTRY/NAME]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';

const usage =
  'usage: node scripts/chart-release.mjs VERSION sha256:DIGEST [CHART_DIR] [--repository REGISTRY/NAME]   (VERSION without a leading v)';
/** @type {{ values: { repository?: string }, positionals: string[] }} */
let parsed;
try {
  parsed = parseArgs({ options: { repository: { type: 'string' } }, allowPositionals: true });
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  process.exit(2);
}
const [version, digest, dir = 'helm/podpattern', ...extra] = parsed.positionals;
const { repository } = parsed.values;
// A repository is a lower-case name with an optional registry host[:port] (the OCI distribution
// spec's grammar, simplified): no tag, no digest, no scheme.
const validRepository =
  repository === undefined || /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(repository);
if (
  !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version ?? '') ||
  !/^sha256:[a-f0-9]{64}$/.test(digest ?? '') ||
  extra.length > 0 ||
  !validRepository
) {
  console.error(usage);
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
edit(join(dir, 'values.yaml'), (values) => {
  values.setIn(['image', 'digest'], digest);
  if (repository !== undefined) values.setIn(['image', 'repository'], repository);
});
console.log(`chart ${dir}: version ${version}, image ${repository ?? 'repository unchanged'} digest ${digest}`);
