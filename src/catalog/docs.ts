// Markdown reference pages for templates, generated from the catalog itself so the docs cannot
// drift from what the webhook injects. Pure: templates and example texts in, pages out; the
// `podpattern docs` command does the reading and writing.
import { listeningPorts } from '../template/listeners.js';
import { wholeParameter } from '../template/placeholders.js';
import { PATTERNS, startsBeforeApp, type ParameterSpec, type Template } from '../model/template.js';
import { PATTERN_KEYS, fileKey, parameterKey } from '../model/keys.js';

export interface DocPage {
  /** File name relative to the output directory, e.g. `https-proxy.md`. */
  file: string;
  text: string;
}

/** Renders one page per template plus a README.md index. `examples` maps a template name to an example pod's YAML. */
export function renderCatalogDocs(templates: readonly Template[], examples: Readonly<Record<string, string>> = {}): DocPage[] {
  const sorted = [...templates].sort((a, b) => a.name.localeCompare(b.name));
  return [
    renderIndex(sorted),
    ...sorted.map((template) => ({ file: `${template.name}.md`, text: renderTemplatePage(template, examples[template.name]) })),
  ];
}

const GENERATED = 'Generated from the built-in catalog by `npm run docs`; do not edit by hand.';

function renderIndex(templates: readonly Template[]): DocPage {
  const lines = ['# Built-in templates', '', `<!-- ${GENERATED} -->`, ''];
  lines.push(
    'podpattern ships these PatternTemplates, the single-node patterns of *Designing Distributed Systems*.',
    `A pod asks for one with the annotation of its pattern, e.g. \`${PATTERN_KEYS.sidecar}: https-proxy\`,`,
    `and sets its parameters with \`${parameterKey('<template>', '<parameter>')}\` annotations.`,
    '`podpattern templates NAME` prints the same information from the catalog in use.',
    '',
  );
  for (const pattern of PATTERNS) {
    const ofPattern = templates.filter((t) => t.spec.pattern === pattern);
    if (ofPattern.length === 0) continue;
    lines.push(`## ${capitalize(pattern)}s`, '', '| template | what it does |', '|---|---|');
    for (const template of ofPattern) lines.push(`| [${template.name}](${template.name}.md) | ${cell(template.spec.description)} |`);
    lines.push('');
  }
  return { file: 'README.md', text: lines.join('\n') };
}

/** One template's page: what it does, how to ask for it, parameters, what it adds, an example. */
export function renderTemplatePage(template: Template, example?: string): string {
  const { name, spec } = template;
  const lines = [`# ${name}`, '', `<!-- ${GENERATED} -->`, ''];
  lines.push(`**Pattern:** ${spec.pattern}`, '', prose(spec.description), '');
  lines.push(...usageSection(template), ...parameterSection(spec.parameters, name), ...containerSection(template));
  lines.push(...volumeSection(template), ...appSection(template), ...fileSection(template));
  lines.push('## Example', '');
  if (example === undefined) lines.push('No example pod is provided for this template.', '');
  else lines.push(`From [examples/${name}.yaml](../../examples/${name}.yaml):`, '', '```yaml', example.trimEnd(), '```', '');
  return lines.join('\n');
}

function usageSection({ name, spec }: Template): string[] {
  const required = Object.entries(spec.parameters).filter(([, p]) => p.required === true);
  const lines = ['## Use it', '', "Annotations on the Pod, or on a workload's pod template:", '', '```yaml', 'metadata:', '  annotations:'];
  lines.push(`    ${PATTERN_KEYS[spec.pattern]}: ${name}`);
  for (const [parameter, p] of required) lines.push(`    ${parameterKey(name, parameter)}: "<${p.type}>"  # required`);
  lines.push('```', '');
  return lines;
}

function parameterSection(parameters: Record<string, ParameterSpec>, template: string): string[] {
  const entries = Object.entries(parameters);
  if (entries.length === 0) return ['## Parameters', '', 'This template takes no parameters.', ''];
  const lines = ['## Parameters', '', `Each is set with the annotation \`${parameterKey(template, '<parameter>')}\`.`, ''];
  lines.push('| parameter | type | default | required | allowed values | description |', '|---|---|---|---|---|---|');
  for (const [name, p] of entries) {
    const fallback = p.default === undefined ? '' : code(String(p.default));
    lines.push(
      `| \`${name}\` | ${p.type} | ${fallback} | ${p.required === true ? 'yes' : 'no'} | ${bounds(p)} | ${cell(p.description ?? '')} |`,
    );
  }
  lines.push('');
  return lines;
}

/** The schema in words: enum, pattern, range, length; `quote` marks up literal values. */
export function bounds(p: ParameterSpec, quote: (text: string) => string = code): string {
  const parts: string[] = [];
  if (p.enum !== undefined) parts.push(`one of ${p.enum.map((v) => quote(String(v))).join(', ')}`);
  if (p.pattern !== undefined) parts.push(`matches ${quote(p.pattern)}`);
  if (p.minimum !== undefined && p.maximum !== undefined) parts.push(`${p.minimum} to ${p.maximum}`);
  else if (p.minimum !== undefined) parts.push(`at least ${p.minimum}`);
  else if (p.maximum !== undefined) parts.push(`at most ${p.maximum}`);
  if (p.maxLength !== undefined) parts.push(`at most ${p.maxLength} characters`);
  return parts.join('; ');
}

function containerSection({ spec, compiled }: Template): string[] {
  const lines = ['## Containers', '', '| container | runs as | image | ports |', '|---|---|---|---|'];
  const first = startsBeforeApp(spec, spec.pattern);
  const role = first
    ? 'native sidecar where the server has them, else a container'
    : 'container (a native sidecar in pods that run to completion)';
  for (const c of spec.initContainers)
    lines.push(`| \`${c.name}\` | init container | \`${c.image}\` | ${ports(c.ports, spec.parameters)} |`);
  for (const c of spec.containers) lines.push(`| \`${c.name}\` | ${role} | \`${c.image}\` | ${ports(c.ports, spec.parameters)} |`);
  lines.push('');
  if (spec.containers.length > 0) {
    lines.push(
      first
        ? `Starts before the app (\`startBeforeApp: true\`${spec.startBeforeApp === undefined ? `, the ${spec.pattern} pattern's default` : ''}): on servers with native sidecars (Kubernetes 1.29 and later) the app's containers start once it has started${spec.containers.some((c) => c.startupProbe !== undefined) ? ' and its startup probe has passed' : ''}, and it is stopped after them. On older servers it starts beside the app, which may start first; \`explain\` and the admission response say so in a warning.`
        : `Starts beside the app (\`startBeforeApp: false\`${spec.startBeforeApp === undefined ? `, the ${spec.pattern} pattern's default` : ''}): the app never waits for it.`,
      '',
    );
  }
  const local = [...new Set(compiled.listeners.map((l) => portText(l.port, l.parameter, spec.parameters)))];
  if (local.length > 0) {
    lines.push(
      `Listens on 127.0.0.1 only, for the app inside the pod (no containerPort is declared, and the probes run inside the container): ${local.join('; ')}.`,
      '',
    );
  }
  if (local.length > 0 || [...spec.initContainers, ...spec.containers].some((c) => listeningPorts(c).length > 0)) {
    lines.push("It listens, so it is refused in pods with `hostNetwork: true`, where its port would be the node's.", '');
  }
  return lines;
}

/** Ports by number; one set by a parameter shows its default and the parameter's name. */
function ports(list: { name?: string; containerPort: number | string }[] | undefined, parameters: Record<string, ParameterSpec>): string {
  return (list ?? [])
    .map((p) => `${p.name === undefined ? '' : `${p.name}: `}${portText(p.containerPort, wholeParameter(p.containerPort), parameters)}`)
    .join('; ');
}

function portText(port: number | string | undefined, parameter: string | undefined, parameters: Record<string, ParameterSpec>): string {
  if (parameter === undefined) return code(String(port));
  const fallback = parameters[parameter]?.default;
  return `${fallback === undefined ? '' : `${code(String(fallback))}, `}set by \`${parameter}\``;
}

function volumeSection({ name, spec }: Template): string[] {
  const lines: string[] = [];
  const files = Object.keys(spec.files);
  for (const v of spec.volumes) {
    const kind = Object.keys(v).filter((k) => k !== 'name')[0] ?? 'volume';
    lines.push(`- \`${v.name}\`: ${kind}${v.secret?.secretName === undefined ? '' : ` of Secret ${code(v.secret.secretName)}`}`);
  }
  if (files.length > 0)
    lines.push(
      `- \`${name}-files\`: downwardAPI volume with ${files.map((f) => `\`${f}\``).join(', ')} (rendered into pod annotations \`${fileKey(name, '<name>')}\`)`,
    );
  return lines.length === 0 ? [] : ['## Volumes', '', ...lines, ''];
}

function appSection({ spec }: Template): string[] {
  const lines: string[] = [];
  for (const env of spec.app.env ?? []) lines.push(`- env \`${env.name}\` = ${code(env.value ?? '(from a reference)')}`);
  for (const mount of spec.app.volumeMounts ?? [])
    lines.push(`- volume \`${mount.name}\` mounted at ${code(mount.mountPath)}${mount.readOnly === true ? ' (read-only)' : ''}`);
  for (const [key, value] of Object.entries(spec.podAnnotations)) lines.push(`- pod annotation \`${key}\` = ${code(value)}`);
  if (lines.length === 0) return [];
  return ['## What the app gets', '', 'Added to every application container (and to the pod):', '', ...lines, ''];
}

function fileSection({ spec }: Template): string[] {
  const entries = Object.entries(spec.files);
  if (entries.length === 0) return [];
  const lines = ['## Config files', '', "`$(params.NAME)` is replaced by the parameter's value when the pod is admitted.", ''];
  for (const [file, text] of entries) lines.push(`### ${file}`, '', '```', text.trimEnd(), '```', '');
  return lines;
}

/** Inline code that survives any backticks inside, escaped for a table cell. */
function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text.replaceAll('|', '\\|')}${pad}${fence}`;
}

/** Text for a table cell: pipes escaped, on one line, and `<name>` shown rather than read as HTML. */
function cell(text: string): string {
  return prose(text).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function prose(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
