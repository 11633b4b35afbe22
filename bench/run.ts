// `npm run bench`: every benchmark, in one process run, each printing ratios measured in that run.
import os from 'node:os';
import { runBoundsBench } from './bounds.js';
import { runEngineBench } from './engine.js';
import { runServerBench } from './server.js';
import { runImpactBench } from './impact.js';

async function main(): Promise<void> {
  process.stdout.write(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n\n`,
  );
  const only = process.env.PODPATTERN_BENCH_ONLY;
  if (only === undefined || only === 'engine') process.stdout.write(`${runEngineBench().text}\n\n`);
  if (only === undefined || only === 'bounds') process.stdout.write(`${(await runBoundsBench()).text}\n\n`);
  if (only === undefined || only === 'impact') process.stdout.write(`${runImpactBench()}\n\n`);
  if (only === undefined || only === 'server') process.stdout.write(`${(await runServerBench()).text}\n`);
  process.stdout.write(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
