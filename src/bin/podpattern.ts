#!/usr/bin/env node
// The podpattern command: one binary for the webhook server and the offline tools.
// Each subcommand lives in its own module and is loaded only when asked for, so
// `podpattern inject` never loads Fastify and `podpattern serve` never loads the CLI.

const commands: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  serve: { summary: 'run the admission webhook server', load: () => import('../main.js') },
  inject: { summary: 'print manifests with patterns injected', load: () => import('../cli/inject.js') },
  explain: { summary: 'explain, per pod template, what would be injected and why', load: () => import('../cli/explain.js') },
  templates: { summary: 'list the catalog, or show one template', load: () => import('../cli/templates.js') },
  certs: { summary: 'make a CA and a serving certificate for the webhook', load: () => import('../cli/certs.js') },
  adapter: { summary: 'run an adapter container (redis-slowlog, storm, log-normalizer)', load: () => import('../cli/adapter.js') },
  policy: { summary: 'compile templates into admission policies (webhook-less mode)', load: () => import('../cli/policy.js') },
  check: {
    summary: 'check the install in the cluster, a namespace, and whether pods would be injected',
    load: () => import('../cli/check.js'),
  },
  status: { summary: 'list injected pods by template; flag outdated and non-injected pods', load: () => import('../cli/status.js') },
  rollout: {
    summary: "follow and steer a cluster template's rollout: status, pause, resume, promote, undo",
    load: () => import('../cli/rollout.js'),
  },
  probe: { summary: 'send a dry-run pod through the installed webhook and check it is injected', load: () => import('../cli/probe.js') },
  version: { summary: 'print the version, the commit and the Node.js version', load: () => import('../cli/version.js') },
  docs: { summary: 'write the built-in catalog reference (docs/templates)', load: () => import('../cli/docs.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: podpattern <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n'podpattern <command> --help' describes each command's flags.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name === '--version' || name === '-v' ? 'version' : name];
  if (command === undefined) {
    const { didYouMean } = await import('../engine/suggest.js');
    process.stderr.write(
      `podpattern: unknown command '${name}'${didYouMean(name, Object.keys(commands))}\nRun 'podpattern --help' for the commands.\n`,
    );
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`podpattern: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
