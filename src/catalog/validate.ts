// Turns one parsed PatternTemplate object into a Template, or into every problem it has.
// A template is accepted whole or refused whole: it never half-renders at admission.
import { contentHash } from '../template/canonical.js';
import { fileKey, filesVolumeName, isOwnKey } from '../model/keys.js';
import { FILE_NAME, MAX_LABEL, PARAMETER_NAME, isAnnotationKey, isDnsLabel } from '../template/names.js';
import { scanPlaceholders } from '../template/placeholders.js';
import { probeProblems } from './probes.js';
import {
  MAX_TEMPLATE_PATTERN_INSTRUCTIONS,
  checkParameterValue,
  checkType,
  compilePattern,
  expandedSize,
} from '../template/parameter-value.js';
import { compileTemplate } from '../template/compile.js';
import type { RE2JS } from 're2js';
import { sizingProblems } from '../template/sizing.js';
import { schemaProblems } from './schema.js';
import type { ParameterSpec, Template, TemplateRollout, TemplateSource, TemplateSpec } from '../model/template.js';

export type Validated = { ok: true; template: Template } | { ok: false; name: string; problems: string[] };

/**
 * Deeper than any Kubernetes object a template holds (a projected volume's items are about ten
 * levels down): 2,000 nested lists overflowed the stack of the code that walks a template.
 */
export const MAX_TEMPLATE_DEPTH = 32;

export function validateTemplate(object: unknown, source: TemplateSource, fallbackName: string): Validated {
  const name = readName(object) ?? fallbackName;
  const deep = deeperThan(object, MAX_TEMPLATE_DEPTH);
  if (deep !== undefined)
    return { ok: false, name, problems: [`${deep}: nested more than ${MAX_TEMPLATE_DEPTH} levels deep; no template needs that`] };
  try {
    return validateShaped(object, source, name);
  } catch (error) {
    // Each check reads only what the schema has already typed; this is the last line, so that
    // one object can never take down the list, the watch or the webhook that reads it.
    return { ok: false, name, problems: [`(top): could not be checked (${(error as Error).message})`] };
  }
}

function validateShaped(object: unknown, source: TemplateSource, name: string): Validated {
  const structural = schemaProblems(object);
  const rawSpec = (object as { spec?: unknown } | null)?.spec;
  if (rawSpec === null || typeof rawSpec !== 'object') return { ok: false, name, problems: structural };
  const spec = normalizeSpec(rawSpec);
  const patterns = new Map<string, RE2JS>();
  const problems = [...structural, ...semanticProblems(name, spec, patterns, structural.length > 0)];
  if (problems.length > 0) return { ok: false, name, problems };
  const compiled = compileTemplate(name, spec, patterns);
  if (!compiled.ok) return { ok: false, name, problems: compiled.problems };
  // spec.rollout stays out of the spec (and so out of the hash): changing it makes no pod outdated.
  const rollout = (rawSpec as { rollout?: TemplateRollout }).rollout;
  return {
    ok: true,
    template: { name, spec, hash: contentHash(spec), source, compiled: compiled.compiled, ...(rollout === undefined ? {} : { rollout }) },
  };
}

/**
 * The rules JSON Schema cannot state. When the structure is already wrong they still run, so
 * an operator sees every problem at once; a part too malformed to inspect is skipped, since
 * the structural problems already name it.
 */
function semanticProblems(name: string, spec: TemplateSpec, patterns: Map<string, RE2JS>, structureBroken: boolean): string[] {
  const checks = [
    () => nameProblems(name, spec),
    () => parameterProblems(spec, patterns),
    () => objectProblems(name, spec),
    () => placeholderProblems(spec),
    () => probeProblems(spec),
    () => sizingProblems(spec),
  ];
  return checks.flatMap((check) => {
    if (!structureBroken) return check();
    try {
      return check();
    } catch {
      return [];
    }
  });
}

/** The path of a value nested deeper than `limit` in `object`, or undefined. Iterative: no stack to overflow. */
function deeperThan(object: unknown, limit: number): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: object, depth: 0, path: '' }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { value, depth, path } = top;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= limit) return path === '' ? '(top)' : path;
    for (const [key, item] of Object.entries(value))
      stack.push({ value: item, depth: depth + 1, path: Array.isArray(value) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}` });
  }
  return undefined;
}

function readName(object: unknown): string | undefined {
  const name = (object as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Fills the optional parts so the engine never checks for absence. */
function normalizeSpec(spec: Partial<TemplateSpec>): TemplateSpec {
  return {
    pattern: spec.pattern as TemplateSpec['pattern'],
    description: spec.description as string,
    parameters: spec.parameters ?? {},
    containers: spec.containers ?? [],
    initContainers: spec.initContainers ?? [],
    volumes: spec.volumes ?? [],
    files: spec.files ?? {},
    app: { env: spec.app?.env ?? [], volumeMounts: spec.app?.volumeMounts ?? [] },
    podAnnotations: spec.podAnnotations ?? {},
    // Absent stays absent: the content hash of a template that sets none of these is unchanged.
    ...(spec.imagePullSecrets === undefined ? {} : { imagePullSecrets: spec.imagePullSecrets }),
    ...(spec.os === undefined ? {} : { os: spec.os }),
    ...(spec.keepLocalVolumes === undefined ? {} : { keepLocalVolumes: spec.keepLocalVolumes }),
    ...(spec.sizing === undefined ? {} : { sizing: spec.sizing }),
    ...(spec.startBeforeApp === undefined ? {} : { startBeforeApp: spec.startBeforeApp }),
    ...(spec.availability === undefined ? {} : { availability: spec.availability }),
  };
}

function nameProblems(name: string, spec: TemplateSpec): string[] {
  const problems: string[] = [];
  // Whether the name is a DNS label is the schema's rule (crd-schema.ts); this is what it cannot know.
  if (isDnsLabel(name) && Object.keys(spec.files).length > 0 && !isDnsLabel(filesVolumeName(name))) {
    problems.push(`metadata.name: '${name}' is too long for its files volume '${name}-files' (at most 63 characters, no dots)`);
  }
  return problems;
}

/** Also compiles the parameters' patterns, into `patterns`, for the template's compiled form. */
function parameterProblems(spec: TemplateSpec, patterns: Map<string, RE2JS>): string[] {
  const problems: string[] = [];
  // Compiling costs with the program's size: all of a template's patterns together are bounded
  // before any is compiled (/validate-template compiles what any client sends).
  const total = Object.values(spec.parameters).reduce((sum, p) => sum + (typeof p.pattern === 'string' ? expandedSize(p.pattern) : 0), 0);
  const compileable = total <= MAX_TEMPLATE_PATTERN_INSTRUCTIONS;
  if (!compileable)
    problems.push(
      `spec.parameters: the patterns together expand to about ${total} instructions, more than ${MAX_TEMPLATE_PATTERN_INSTRUCTIONS}; simplify them`,
    );
  for (const [name, parameter] of Object.entries(spec.parameters)) {
    const at = `spec.parameters.${name}`;
    if (!PARAMETER_NAME.test(name) || name.length > MAX_LABEL)
      problems.push(`${at}: parameter names are lower-case words joined by '-' (no dots)`);
    const re =
      parameter.pattern === undefined || !compileable ? undefined : compilePattern(parameter as ParameterSpec & { pattern: string });
    const patternFault = typeof re === 'string' ? re : undefined;
    if (re !== undefined && typeof re !== 'string') patterns.set(name, re);
    problems.push(...boundProblems(at, parameter, patternFault));
    // A default is checked against the pattern only when the pattern can run (else that is the problem).
    if (parameter.default !== undefined && (parameter.pattern === undefined || (compileable && patternFault === undefined))) {
      const fault = checkParameterValue(parameter, parameter.default, patterns.get(name));
      if (fault !== undefined) problems.push(`${at}.default: ${fault}`);
    }
    for (const [i, option] of (parameter.enum ?? []).entries()) {
      const fault = checkType(parameter, option);
      if (fault !== undefined) problems.push(`${at}.enum[${i}]: ${fault}`);
    }
  }
  return problems;
}

function boundProblems(at: string, parameter: ParameterSpec, patternFault: string | undefined): string[] {
  const problems: string[] = [];
  const numeric = parameter.type === 'integer' || parameter.type === 'number';
  if (!numeric && (parameter.minimum !== undefined || parameter.maximum !== undefined))
    problems.push(`${at}: minimum and maximum apply only to integer and number parameters`);
  if (parameter.type !== 'string' && (parameter.pattern !== undefined || parameter.maxLength !== undefined))
    problems.push(`${at}: pattern and maxLength apply only to string parameters`);
  if (parameter.pattern !== undefined) {
    if (!parameter.pattern.startsWith('^') || !parameter.pattern.endsWith('$'))
      problems.push(`${at}.pattern: must be anchored with ^ and $ so it bounds the whole value`);
    if (patternFault !== undefined) problems.push(`${at}.pattern: ${patternFault}`);
  }
  // Parameter values come from pod annotations, which any pod author writes: a string that is
  // not bounded could carry anything into a config file or a command line.
  if (parameter.type === 'string' && parameter.enum === undefined && parameter.pattern === undefined) {
    problems.push(`${at}: a string parameter needs an enum or an anchored pattern that bounds what pod authors may pass`);
  }
  if (parameter.required === true && parameter.default !== undefined) problems.push(`${at}: a required parameter cannot have a default`);
  return problems;
}

function objectProblems(name: string, spec: TemplateSpec): string[] {
  const problems: string[] = [];
  if (spec.containers.length + spec.initContainers.length === 0) problems.push('spec: declares no containers and no initContainers');
  const seen = new Map<string, string>();
  for (const list of ['containers', 'initContainers'] as const) {
    for (const [i, c] of spec[list].entries()) {
      const at = `spec.${list}[${i}].name`;
      if (!isDnsLabel(c.name)) problems.push(`${at}: '${c.name}' must be a DNS label (lower-case, '-', at most 63 characters)`);
      const other = seen.get(c.name);
      if (other !== undefined) problems.push(`${at}: '${c.name}' is also the name of ${other}`);
      seen.set(c.name, `spec.${list}[${i}]`);
    }
  }
  const volumes = new Set<string>();
  for (const [i, v] of spec.volumes.entries()) {
    const at = `spec.volumes[${i}].name`;
    if (!isDnsLabel(v.name)) problems.push(`${at}: '${v.name}' must be a DNS label`);
    if (volumes.has(v.name)) problems.push(`${at}: '${v.name}' is declared twice`);
    if (v.name === filesVolumeName(name) && Object.keys(spec.files).length > 0)
      problems.push(`${at}: '${v.name}' is reserved for the template's files`);
    volumes.add(v.name);
  }
  for (const file of Object.keys(spec.files)) {
    if (!FILE_NAME.test(file) || !isAnnotationKey(fileKey(name, file))) {
      problems.push(`spec.files.${file}: file names use letters, digits, '-', '_' and '.', and 'file.<name>' must fit in 63 characters`);
    }
  }
  for (const key of Object.keys(spec.podAnnotations)) {
    if (!isAnnotationKey(key)) problems.push(`spec.podAnnotations: '${key}' is not a valid annotation key`);
    if (isOwnKey(key)) problems.push(`spec.podAnnotations: '${key}' is in podpattern's own domain`);
  }
  return problems;
}

// Places where a parameter decides who the code runs as or what it can reach. A placeholder
// there must name a parameter bounded to a closed set (enum) or, for strings, a pattern; for
// numbers, both a minimum and a maximum (pod annotations never set these unbounded).
const SENSITIVE = [/^(containers|initContainers)\[\d+\]\.(image|securityContext)\b/, /^volumes\[\d+\]\.hostPath\b/];

function placeholderProblems(spec: TemplateSpec): string[] {
  const problems: string[] = [];
  const { parameters, pattern: _pattern, description: _description, ...rendered } = spec;
  walkStrings(rendered, '', (path, text, isKey) => {
    const { refs, malformed } = scanPlaceholders(text);
    for (const bad of malformed)
      problems.push(`spec.${path}: '${bad}' is not a placeholder; use $(params.NAME), $(pod.name) or $(pod.namespace)`);
    if (isKey && refs.length > 0) problems.push(`spec.${path}: placeholders may appear only in values, not in keys`);
    for (const ref of refs) {
      if (!ref.startsWith('params.')) continue;
      const name = ref.slice('params.'.length);
      // Own properties only: $(params.constructor) must not pass for a declared parameter.
      const parameter = Object.hasOwn(parameters, name) ? parameters[name] : undefined;
      if (parameter === undefined) {
        problems.push(`spec.${path}: $(${ref}) names an undeclared parameter; declare it under spec.parameters`);
      } else if (SENSITIVE.some((re) => re.test(path)) && !isTightlyBound(parameter)) {
        problems.push(
          `spec.${path}: $(${ref}) sets an image, privilege or host path, so its parameter needs an enum (or, for numbers, minimum and maximum)`,
        );
      }
    }
  });
  return problems;
}

function isTightlyBound(parameter: ParameterSpec): boolean {
  if (parameter.enum !== undefined) return true;
  if (parameter.type === 'integer' || parameter.type === 'number')
    return parameter.minimum !== undefined && parameter.maximum !== undefined;
  return false;
}

function walkStrings(value: unknown, path: string, visit: (path: string, text: string, isKey: boolean) => void): void {
  if (typeof value === 'string') {
    visit(path, value, false);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => walkStrings(item, `${path}[${i}]`, visit));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = path === '' ? key : `${path}.${key}`;
      visit(at, key, true);
      walkStrings(item, at, visit);
    }
  }
}
