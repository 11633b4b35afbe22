// The engine is pure, so the webhook and the CLI answer alike: nothing it imports, directly or
// through other modules of ours, reaches the file system, the network, a server framework, a
// logger or a Kubernetes client.
// Type-only imports are erased at compile time and do not count.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const FORBIDDEN = [
  /^node:(fs|http|https|http2|net|tls|child_process|dgram|worker_threads)(\/|$)/,
  /^fastify/,
  /^pino/,
  /^@kubernetes\/client-node/,
  /^prom-client/,
];
const entries = {
  'src/engine': fileURLToPath(new URL('../../src/engine/index.ts', import.meta.url)),
  // The policy compiler is pure too: templates in, admission objects out.
  'src/policy': fileURLToPath(new URL('../../src/policy/index.ts', import.meta.url)),
};

/** Every runtime import of a module: `import type` and `export type` lines are skipped. */
function runtimeImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  for (const match of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (match[2] === undefined) specifiers.push(match[3] as string);
  }
  return specifiers;
}

for (const [name, entry] of Object.entries(entries))
  t.test(`${name} reaches no I/O module, however deep`, async (t) => {
    const seen = new Set<string>();
    const external = new Map<string, string>();
    const queue = [entry];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const specifier of runtimeImports(file)) {
        if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
        else external.set(specifier, file);
      }
    }
    t.ok(seen.size > 5, `walked ${seen.size} modules`);
    for (const [specifier, from] of external) {
      t.notOk(
        FORBIDDEN.some((re) => re.test(specifier)),
        `${specifier} (imported by ${from.replace(/.*\/src\//, 'src/')}) is allowed in ${name}`,
      );
    }
  });
