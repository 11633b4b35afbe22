// `podpattern templates [NAME] [--catalog-dir DIR] [-o text|yaml|json]`: the catalog in
// use (built-in plus --catalog-dir), or one template with its parameters.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { bounds } from '../catalog/docs.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND, type Catalog, type Template } from '../model/template.js';
import { PATTERN_KEYS, parameterKey } from '../model/keys.js';
import { UsageError, guard, loadCatalog, processIo, type Io } from './common.js';
import { didYouMean } from '../engine/suggest.js';
import { describeAvailability } from '../engine/availability.js';

export const usage = `usage: podpattern templates [NAME] [--catalog-dir DIR] [-o text|yaml|json]
       podpattern templates diff -f NEW.yaml [--manifests DIR]   (see 'templates diff --help')
       podpattern templates history NAME                          (see 'templates history --help')

Without NAME, lists the templates: name, pattern, where each comes from, whether its
spec.availability limits who may use it, and what it does.
With NAME, shows that template: where it is available, its parameters (type, default, bounds)
and what it adds.
-o yaml or -o json prints the templates as PatternTemplate objects.
`;

const FORMATS = ['text', 'yaml', 'json'] as const;
type Format = (typeof FORMATS)[number];

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  // The impact of a change and the kept revisions need the cluster client: loaded only when asked for.
  if (argv[0] === 'diff') return (await import('./templates-diff.js')).run(argv.slice(1), io);
  if (argv[0] === 'history') return (await import('./templates-history.js')).run(argv.slice(1), io);
  return guard(io, usage, () => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'catalog-dir': { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help === true) return (io.stdout(usage), 0);
    const format = values.output as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`-o must be one of ${FORMATS.join(', ')}, got '${values.output}'`);
    if (positionals.length > 1) throw new UsageError(`give at most one template name, got ${positionals.length}`);
    const catalog = loadCatalog(values['catalog-dir'], io);
    const [name] = positionals;
    if (name === undefined) {
      io.stdout(format === 'text' ? listText(catalog.list()) : serialize(catalog.list().map(toObject), format));
      return 0;
    }
    const template = catalog.get(name);
    if (template === undefined) {
      io.stderr(`${notFound(name, catalog)}\n`);
      return 1;
    }
    io.stdout(format === 'text' ? showText(template) : serialize(toObject(template), format));
    return 0;
  });
}

function notFound(name: string, catalog: Catalog): string {
  const failure = catalog.failure(name);
  if (failure !== undefined)
    return `podpattern: template ${name} (${failure.source}) is invalid:\n${failure.problems.map((p) => `  - ${p}`).join('\n')}`;
  return `podpattern: no template named '${name}'${didYouMean(
    name,
    catalog.list().map((t) => t.name),
  )}; the templates are ${
    catalog
      .list()
      .map((t) => t.name)
      .join(', ') || '(none)'
  }`;
}

/** A template as the PatternTemplate object it was loaded from (normalized). */
function toObject(template: Template): Record<string, unknown> {
  return { apiVersion: TEMPLATE_API_VERSION, kind: TEMPLATE_KIND, metadata: { name: template.name }, spec: template.spec };
}

function serialize(value: unknown, format: Exclude<Format, 'text'>): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  if (Array.isArray(value)) return value.map((item) => stringify(item, { lineWidth: 0 })).join('---\n');
  return stringify(value, { lineWidth: 0 });
}

function listText(templates: readonly Template[]): string {
  const rows = [
    ['NAME', 'PATTERN', 'SOURCE', 'AVAILABLE', 'DESCRIPTION'],
    ...templates.map((t) => [
      t.name,
      t.spec.pattern,
      t.source,
      t.spec.availability === undefined ? 'everywhere' : 'limited',
      t.spec.description,
    ]),
  ];
  return table(rows);
}

function showText(template: Template): string {
  const { spec } = template;
  const lines = [
    `Name:        ${template.name}`,
    `Pattern:     ${spec.pattern}`,
    `Source:      ${template.source}`,
    `Hash:        ${template.hash}`,
    `Description: ${spec.description}`,
    '',
  ];
  lines.push(`Use:         ${PATTERN_KEYS[spec.pattern]}: ${template.name}`);
  lines.push(`Available:   ${describeAvailability(spec.availability)}`, '');
  const parameters = Object.entries(spec.parameters);
  if (parameters.length === 0) {
    lines.push('Parameters: none', '');
  } else {
    lines.push(`Parameters (annotation ${parameterKey(template.name, '<parameter>')}):`);
    const rows = [['PARAMETER', 'TYPE', 'DEFAULT', 'REQUIRED', 'ALLOWED', 'DESCRIPTION']];
    for (const [name, p] of parameters) {
      rows.push([
        name,
        p.type,
        p.default === undefined ? '-' : String(p.default),
        p.required === true ? 'yes' : 'no',
        bounds(p, (text) => text) || '-',
        p.description ?? '',
      ]);
    }
    lines.push(table(rows, '  '));
  }
  lines.push('Containers:');
  for (const c of spec.initContainers) lines.push(`  ${c.name} (init): ${c.image}`);
  for (const c of spec.containers) lines.push(`  ${c.name}: ${c.image}`);
  const files = Object.keys(spec.files);
  if (files.length > 0) lines.push(`Files:       ${files.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Left-aligned columns; the last column is not padded. */
function table(rows: string[][], indent = ''): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return (
    rows
      .map((row) => `${indent}${row.map((value, i) => (i === row.length - 1 ? value : value.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd())
      .join('\n') + '\n'
  );
}
