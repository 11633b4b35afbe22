// `podpattern version`: the version, the commit and the Node.js version, one line (or JSON).
import { parseArgs } from 'node:util';
import { buildInfo, formatBuildInfo } from '../version/index.js';
import { processIo, type Io } from './common.js';

const HELP = `usage: podpattern version [-o text|json]

Prints podpattern's version, the git commit it was built from and the Node.js version.
  -o, --output  text (default) or json
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  let values: { output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (error) {
    io.stderr(`podpattern version: ${(error as Error).message}\n${HELP}`);
    return 2;
  }
  if (values.help === true) {
    io.stdout(HELP);
    return 0;
  }
  const info = buildInfo();
  if (values.output === 'json') io.stdout(`${JSON.stringify(info)}\n`);
  else if (values.output === undefined || values.output === 'text') io.stdout(formatBuildInfo(info));
  else {
    io.stderr(`podpattern version: -o takes text or json, got '${values.output}'\n`);
    return 2;
  }
  return 0;
}
