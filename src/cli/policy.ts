// `podpattern policy -f TEMPLATE|- | NAME…`: templates compiled into MutatingAdmissionPolicy and
// ValidatingAdmissionPolicy objects, with their bindings, for webhook-less mode. Any template
// that cannot be compiled stops the run with every reason and nothing on stdout.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseTemplates } from '../catalog/index.js';
import type { Template } from '../model/template.js';
import { compilePolicies } from '../policy/index.js';
import { workloadWarningPolicies } from '../policy/workloads.js';
import { requiredTemplatePolicies } from '../policy/required.js';
import { didYouMean } from '../engine/suggest.js';
import { UsageError, guard, loadCatalog, processIo, type Io } from './common.js';
import { writeDocument } from './yaml.js';

export const usage = `usage: podpattern policy NAME… [--catalog-dir DIR] [--namespace NS] [-o yaml|json]
       podpattern policy -f TEMPLATE.yaml|- [--namespace NS] [-o yaml|json]

Prints, for each template, a MutatingAdmissionPolicy and a ValidatingAdmissionPolicy
(admissionregistration.k8s.io/v1, Kubernetes 1.36 or later) with their bindings: inside the
API server, they give a pod that asks for that template alone the pod the webhook gives it,
and deny what the webhook denies; a second pair, podpattern-<template>-patternpolicy, applies the
namespace's PatternPolicy (needs its CRD), and podpattern-<template>-patternpolicy-review
refuses a PatternPolicy whose narrowing of the template does not fit it; then one ValidatingAdmissionPolicy, podpattern-workloads, bound
with validationActions [Warn], that warns at apply time about a workload whose pods will not get
the template they ask for, or whose podpattern annotations sit on its own metadata; and one,
podpattern-required-templates, that denies a pod where the namespace's PatternPolicy requires
templates none of which is among those printed (deleted, or not compiled), as the webhook does.
Both list the templates of this run: compile every template you install in one run, as a later
run's replace them. NAME is a template of the catalog (built-in plus
--catalog-dir); -f reads PatternTemplate objects from a file or standard input.
--namespace is podpattern's own namespace, which the policies leave alone (default podpattern).
A template that cannot be compiled: every reason on stderr, nothing on stdout, exit 1.
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  return guard(io, usage, () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        'catalog-dir': { type: 'string' },
        namespace: { type: 'string', default: 'podpattern' },
        output: { type: 'string', short: 'o', default: 'yaml' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) return (io.stdout(usage), 0);
    if (values.output !== 'yaml' && values.output !== 'json') throw new UsageError(`-o must be yaml or json, got '${values.output}'`);
    const files = values.filename ?? [];
    if (files.length === 0 && positionals.length === 0) throw new UsageError('name templates, or give -f FILE (- for standard input)');
    if (files.length > 0 && positionals.length > 0) throw new UsageError('give template names or -f, not both');
    const chosen = files.length > 0 ? readTemplateFiles(files, io) : catalogTemplates(positionals, values['catalog-dir'], io);
    if (chosen.problems.length > 0) return fail(io, chosen.problems);
    const { objects, problems } = compilePolicies(chosen.templates, { ownNamespace: values.namespace });
    if (problems.length > 0) return fail(io, problems);
    const installed = chosen.templates.map((template) => template.name);
    objects.push(
      ...workloadWarningPolicies(installed, { ownNamespace: values.namespace }),
      ...requiredTemplatePolicies(installed, { ownNamespace: values.namespace }),
    );
    io.stdout(
      values.output === 'json'
        ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`
        : objects.map(writeDocument).join('---\n'),
    );
    return 0;
  });
}

function fail(io: Io, problems: string[]): number {
  io.stderr(
    `podpattern: cannot compile (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  return 1;
}

function readTemplateFiles(files: string[], io: Io): { templates: Template[]; problems: string[] } {
  const templates: Template[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? io.readStdin() : readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      continue;
    }
    const parsed = parseTemplates(text, `file:${file === '-' ? 'stdin' : file}`);
    templates.push(...parsed.templates);
    for (const failure of parsed.failures)
      problems.push(...failure.problems.map((p) => `${failure.name} (${failure.source}) is invalid: ${p}`));
  }
  if (problems.length === 0 && templates.length === 0) problems.push(`no PatternTemplate in ${files.join(', ')}`);
  return { templates, problems };
}

function catalogTemplates(names: string[], dir: string | undefined, io: Io): { templates: Template[]; problems: string[] } {
  const catalog = loadCatalog(dir, io);
  const templates: Template[] = [];
  const problems: string[] = [];
  for (const name of new Set(names)) {
    const template = catalog.get(name);
    if (template !== undefined) templates.push(template);
    else
      problems.push(
        `no template named '${name}'${didYouMean(
          name,
          catalog.list().map((t) => t.name),
        )}; the templates are ${catalog
          .list()
          .map((t) => t.name)
          .join(', ')}`,
      );
  }
  return { templates, problems };
}
