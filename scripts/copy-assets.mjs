// Copies the non-TypeScript files the package needs at run time (the built-in catalog)
// next to the compiled JavaScript, so dist/ resolves them the same way src/ does, and records
// the commit being built for `podpattern version` and the podpattern_build_info metric.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';

mkdirSync('dist/src/catalog/builtin', { recursive: true });
cpSync('src/catalog/builtin', 'dist/src/catalog/builtin', { recursive: true });

// PODPATTERN_COMMIT first (the image build passes it: the build context has no .git), then
// GitHub Actions' GITHUB_SHA, then git itself; 'unknown' when none answers.
function commit() {
  const given = process.env.PODPATTERN_COMMIT || process.env.GITHUB_SHA;
  if (given) return given;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
mkdirSync('dist/src/version', { recursive: true });
writeFileSync('dist/src/version/build-info.json', `${JSON.stringify({ commit: commit() })}\n`);
