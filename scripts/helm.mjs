#!/usr/bin/env node
// Finds a real `helm` for the chart tests, the e2e suite and `npm run helm -- ...`, without a
// system install: helm v4 built from the Go module proxy at the release pinned in
// scripts/go-tools/helm/go.mod, once, into ~/.cache/podpattern-tools (scripts/go-tools.mjs).
//
//   node scripts/helm.mjs version        # runs helm with these arguments
//   import { helmBinary } from './helm.mjs'   # absolute path, building on first use
//
// PODPATTERN_HELM=/path/to/helm overrides the built binary.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goTool } from './go-tools.mjs';

/** Returns the absolute path of a runnable helm, building the pinned one if needed. */
export function helmBinary() {
  return process.env.PODPATTERN_HELM || goTool('helm');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = spawnSync(helmBinary(), process.argv.slice(2), { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}
