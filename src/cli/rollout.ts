// `podpattern rollout SUBCOMMAND NAME`: how a template change reaches running workloads.
import { processIo, type Io } from './common.js';
import { runPromote } from './rollout-promote.js';

const HELP = `usage: podpattern rollout promote NAME [flags]

  promote   serve the current spec of a template in canary in every namespace

'podpattern rollout promote --help' describes its flags.
`;

const SUBCOMMANDS: Record<string, (argv: string[], io: Io) => Promise<number>> = { promote: runPromote };

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') return (io.stdout(HELP), 0);
  const subcommand = name === undefined ? undefined : SUBCOMMANDS[name];
  if (subcommand === undefined) {
    io.stderr(`podpattern rollout: ${name === undefined ? 'give a subcommand' : `unknown subcommand '${name}'`}\n${HELP}`);
    return 2;
  }
  return subcommand(rest, io);
}
