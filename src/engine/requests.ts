// Reads what a pod asks for from its annotations, falling back to its namespace's
// defaults when the pod names no template itself.
import { PATTERNS, type Pattern } from '../model/template.js';
import { DNS1123_SUBDOMAIN } from '../template/names.js';
import { DOMAIN, INJECT_KEY, PATTERN_KEYS, STATUS_KEY, isDomainKey, parseTemplateKey } from '../model/keys.js';
import type { Problem } from './types.js';
import { didYouMean } from './suggest.js';
import { MAX_PROBLEMS, MAX_TEMPLATES, printable } from './bounds.js';

export interface TemplateRequest {
  name: string;
  /** The annotation the name was listed under. */
  pattern: Pattern;
  /** Who asked, when not the pod: the namespace's defaults, or its PatternPolicy's requirements. */
  from?: 'namespace' | 'policy';
}

export interface Requests {
  optedOut: boolean;
  templates: TemplateRequest[];
  /** Raw parameter strings by template, then parameter name. */
  parameters: Map<string, Map<string, string>>;
  problems: Problem[];
  warnings: string[];
  /** Parameter annotations of templates neither asked for nor recorded (the caller reports a bounded number). */
  stray: string[];
}

const KNOWN_DOMAIN_KEYS = new Set<string>([...Object.values(PATTERN_KEYS), INJECT_KEY, STATUS_KEY]);

/**
 * `recorded`: templates a podpattern.dev/status names; their parameters are read too (to tell
 * what the earlier injection added), though the pod may no longer ask for them.
 */
export function readRequests(
  rawPodAnnotations: Record<string, string>,
  namespaceAnnotations: Record<string, string>,
  recorded: readonly string[] = [],
): Requests {
  const result: Requests = { optedOut: false, templates: [], parameters: new Map(), problems: [], warnings: [], stray: [] };
  const podAnnotations = stringValues(rawPodAnnotations, result.problems);
  const inject = podAnnotations[INJECT_KEY];
  if (inject === 'false') return { ...result, optedOut: true };
  if (inject !== undefined && inject !== 'true') {
    result.problems.push({
      code: 'invalid-annotation',
      message: `${INJECT_KEY} is '${printable(inject)}'; set it to "false" to opt the pod out, or remove it`,
    });
  }
  let unknownKeys = 0;
  for (const key in podAnnotations) {
    if (!isDomainKey(key) || KNOWN_DOMAIN_KEYS.has(key)) continue;
    // Past a denial's worth, only counted: the message lists at most MAX_PROBLEMS anyway.
    unknownKeys += 1;
    if (unknownKeys > MAX_PROBLEMS) continue;
    result.problems.push({
      code: 'invalid-annotation',
      message: `${printable(key)} is not a podpattern annotation${didYouMean(key.slice(0, 128), KNOWN_DOMAIN_KEYS)}; the ${DOMAIN}/ keys are ${[...KNOWN_DOMAIN_KEYS].join(', ')}`,
    });
  }
  if (unknownKeys > MAX_PROBLEMS) {
    result.problems.push({
      code: 'invalid-annotation',
      message: `${unknownKeys - MAX_PROBLEMS} more ${DOMAIN}/ keys are not podpattern annotations`,
      count: unknownKeys - MAX_PROBLEMS,
    });
  }

  const podAsks = asksForTemplates(podAnnotations);
  const listSource = podAsks ? podAnnotations : namespaceAnnotations;
  readTemplateLists(listSource, result);
  if (!podAsks) for (const request of result.templates) request.from = 'namespace';

  // Namespace parameters are defaults; the pod's own parameter annotations win. Only the
  // templates asked for (or recorded in the status) are kept: a pod can carry thousands.
  const keep = new Set(recorded);
  for (const { name } of result.templates) keep.add(name);
  if (!podAsks) collectParameters(namespaceAnnotations, result, keep);
  collectParameters(podAnnotations, result, keep);
  return result;
}

/** Whether `annotations` name templates under any of the three pattern keys. */
function asksForTemplates(annotations: Record<string, string>): boolean {
  for (const pattern of PATTERNS) if (annotations[PATTERN_KEYS[pattern]] !== undefined) return true;
  return false;
}

function readTemplateLists(annotations: Record<string, string>, into: Requests): void {
  const seen = new Set<string>();
  let listed = 0;
  for (const pattern of PATTERNS) {
    const key = PATTERN_KEYS[pattern];
    const value = annotations[key];
    if (value === undefined) continue;
    // Names are read one by one up to the limit, never by splitting the whole value: an
    // annotation can hold hundreds of thousands of commas.
    let start = 0;
    while (start <= value.length) {
      const comma = value.indexOf(',', start);
      const end = comma === -1 ? value.length : comma;
      const name = value.slice(start, Math.min(end, start + 512)).trim();
      start = end + 1;
      if (name === '') continue;
      listed += 1;
      if (listed > MAX_TEMPLATES) {
        const rest = countNames(value, start);
        into.problems.push({
          code: 'invalid-annotation',
          message: `the pod lists ${listed + rest} or more template names; at most ${MAX_TEMPLATES} can be injected into one pod`,
        });
        return;
      }
      if (!DNS1123_SUBDOMAIN.test(name) || name.length > 63) {
        into.problems.push({
          code: 'invalid-annotation',
          message: `${key} lists '${printable(name)}', which is not a template name; list names separated by commas`,
        });
        continue;
      }
      if (seen.has(name)) {
        into.warnings.push(`template ${name} is listed more than once; it is injected once`);
        continue;
      }
      seen.add(name);
      into.templates.push({ name, pattern });
    }
  }
}

/** Non-empty names in `value` from `start` on (commas counted, not split). */
function countNames(value: string, start: number): number {
  let count = 0;
  let from = start;
  while (from <= value.length) {
    const comma = value.indexOf(',', from);
    const end = comma === -1 ? value.length : comma;
    if (/\S/.test(value.slice(from, Math.min(end, from + 512)))) count += 1;
    from = end + 1;
  }
  return count;
}

function collectParameters(annotations: Record<string, string>, into: Requests, keep: ReadonlySet<string>): void {
  for (const key in annotations) {
    const parsed = parseTemplateKey(key);
    if (parsed?.kind !== 'parameter') continue;
    // Stray parameters (of templates not asked for) are reported by the caller, a bounded number.
    if (!keep.has(parsed.template)) {
      into.stray.push(key);
      continue;
    }
    let forTemplate = into.parameters.get(parsed.template);
    if (forTemplate === undefined) into.parameters.set(parsed.template, (forTemplate = new Map<string, string>()));
    forTemplate.set(parsed.parameter, annotations[key] as string);
  }
}

/** How a non-string annotation value reads in a message, and how to write it quoted. */
function describeNonString(value: unknown): { what: string; quoted: string } {
  if (value === null) return { what: 'null', quoted: '"…"' };
  if (Array.isArray(value)) return { what: 'a list', quoted: '"…"' };
  if (typeof value === 'object') return { what: 'a map', quoted: '"…"' };
  const text = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : typeof value;
  return { what: `the ${typeof value} ${text}`, quoted: JSON.stringify(text) };
}

/**
 * Annotation values are strings to Kubernetes. A manifest read by the CLI can carry an
 * unquoted `false` or `8080` (YAML reads a boolean or a number): say so, and how to quote it,
 * rather than misread it. Keys outside podpattern's domain are not ours to judge. When every
 * value is a string (as the API server sends them) the annotations are used as they are.
 */
function stringValues(annotations: Record<string, unknown>, problems: Problem[]): Record<string, string> {
  let allStrings = true;
  for (const key in annotations) {
    if (typeof annotations[key] !== 'string') {
      allStrings = false;
      break;
    }
  }
  if (allStrings) return annotations as Record<string, string>;
  const strings: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (typeof value === 'string') strings[key] = value;
    else if (isDomainKey(key) || parseTemplateKey(key) !== undefined) {
      const { what, quoted } = describeNonString(value);
      if (problems.length < MAX_PROBLEMS)
        problems.push({
          code: 'invalid-annotation',
          message: `${printable(key)} is ${what}, not a string: annotation values are strings, so quote it (${printable(key)}: ${quoted})`,
        });
    }
  }
  return strings;
}

/** Keeps hostile values from flooding a message: escaped and cut (see bounds.ts). */
export function truncate(text: string, max = 64): string {
  return printable(text, max);
}
