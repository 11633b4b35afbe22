// `podpattern version`: the version, the commit and the Node.js version, one line (or JSON).
import { buildInfo, formatBuildInfo } from '../version/index.js';
import { parseFlags, processIo, type Io } from './common.js';

const HELP = `usage: podpattern version [-o text|json]

Prints podpattern's version, the git commit it was built from and the Node.js version.
  -o, --output  text (default) or json
`;

export function run(argv: string[], io: Io = processIo): Promise<number> {
  return Promise.resolve(printVersion(argv, io));
}

function printVersion(argv: string[], io: Io): number {
  const parsed = parseFlags<{ output?: string }>('version', argv, { output: { type: 'string', short: 'o' } }, HELP, io);
  if ('exit' in parsed) return parsed.exit;
  const values = parsed.values;
  const info = buildInfo();
  if (values.output === 'json') io.stdout(`${JSON.stringify(info)}\n`);
  else if (values.output === undefined || values.output === 'text') io.stdout(formatBuildInfo(info));
  else {
    io.stderr(`podpattern version: -o takes text or json, got '${values.output}'\n`);
    return 2;
  }
  return 0;
}
