// What this build of podpattern is: the package version, the commit it was built from and the
// Node.js running it. `podpattern version` prints it and the server exports it as the
// podpattern_build_info gauge, so a bug report and a dashboard name the same build.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  /** The git commit, or 'unknown' when the build had none (a tarball without .git). */
  commit: string;
  node: string;
}

/** Written by scripts/copy-assets.mjs beside the compiled module; absent when running from src/. */
const BUILD_FILE = 'build-info.json';

let cached: BuildInfo | undefined;

export function buildInfo(): BuildInfo {
  cached ??= readBuildInfo(dirname(fileURLToPath(import.meta.url)));
  return cached;
}

/** Reads the version from the nearest package.json above `dir` and the commit from the build file. */
export function readBuildInfo(dir: string): BuildInfo {
  return { version: packageVersion(dir), commit: buildCommit(dir), node: process.version };
}

function packageVersion(start: string): string {
  // dist/src/version/ and src/version/ sit at different depths below the package root.
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'podpattern' && typeof parsed.version === 'string') return parsed.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function buildCommit(dir: string): string {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, BUILD_FILE), 'utf8')) as { commit?: unknown };
    return typeof parsed.commit === 'string' && parsed.commit !== '' ? parsed.commit : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function formatBuildInfo(info: BuildInfo): string {
  return `podpattern ${info.version} (commit ${info.commit}, node ${info.node})\n`;
}
