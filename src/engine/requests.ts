// Reads what a pod asks for from its annotations, falling back to its namespace's
// defaults when the pod names no template itself.
import { PATTERNS, type Pattern } from '../catalog/types.js';
import { DNS1123_SUBDOMAIN } from '../catalog/names.js';
import { MAX_PROBLEMS, MAX_TEMPLATES, MAX_WARNINGS, printable } from './bounds.js';
import { INJECT_KEY, PATTERN_KEYS, STATUS_KEY, isDomainKey, parseTemplateKey } from './keys.js';
import type { Problem } from './types.js';

export interface TemplateRequest {
  name: string;
  /** The annotation the name was listed under. */
  pattern: Pattern;
}

export interface Requests {
  optedOut: boolean;
  templates: TemplateRequest[];
  /** Raw parameter strings by template, then parameter name. */
  parameters: Map<string, Map<string, string>>;
  /** Where the requests came from, for messages. */
  origin: 'pod' | 'namespace' | 'none';
  problems: Problem[];
  warnings: string[];
}

const KNOWN_DOMAIN_KEYS = new Set<string>([...Object.values(PATTERN_KEYS), INJECT_KEY, STATUS_KEY]);

/**
 * `recorded`: templates a podpattern.dev/status names; their parameters are read too (to tell
 * what the earlier injection added), though the pod may no longer ask for them.
 */
export function readRequests(podAnnotations: Record<string, string>, namespaceAnnotations: Record<string, string>, recorded: readonly string[] = []): Requests {
  const result: Requests = { optedOut: false, templates: [], parameters: new Map(), origin: 'none', problems: [], warnings: [] };
  const inject = podAnnotations[INJECT_KEY];
  if (inject === 'false') return { ...result, optedOut: true };
  if (inject !== undefined && inject !== 'true') {
    result.problems.push({ code: 'invalid-annotation', message: `${INJECT_KEY} is '${printable(inject)}'; set it to "false" to opt the pod out, or remove it` });
  }
  let unknownKeys = 0;
  for (const key of Object.keys(podAnnotations)) {
    if (!isDomainKey(key) || KNOWN_DOMAIN_KEYS.has(key)) continue;
    // Past a denial's worth, only counted: the message lists at most MAX_PROBLEMS anyway.
    unknownKeys += 1;
    if (unknownKeys <= MAX_PROBLEMS) {
      result.problems.push({ code: 'invalid-annotation', message: `${printable(key)} is not a podpattern annotation; use one of ${[...KNOWN_DOMAIN_KEYS].join(', ')}` });
    }
  }
  if (unknownKeys > MAX_PROBLEMS) {
    result.problems.push({ code: 'invalid-annotation', message: `${unknownKeys - MAX_PROBLEMS} more podpattern.dev/ keys are not podpattern annotations`, count: unknownKeys - MAX_PROBLEMS });
  }

  const podAsks = PATTERNS.some((p) => podAnnotations[PATTERN_KEYS[p]] !== undefined);
  const namespaceAsks = PATTERNS.some((p) => namespaceAnnotations[PATTERN_KEYS[p]] !== undefined);
  const listSource = podAsks ? podAnnotations : namespaceAnnotations;
  result.origin = podAsks ? 'pod' : namespaceAsks ? 'namespace' : 'none';
  readTemplateLists(listSource, result);

  // Namespace parameters are defaults; the pod's own parameter annotations win.
  const stray: Stray = { count: 0, recorded: new Set(recorded) };
  if (!podAsks) collectParameters(namespaceAnnotations, result, stray);
  collectParameters(podAnnotations, result, stray);
  if (stray.count > MAX_WARNINGS) result.warnings.push(`${stray.count - MAX_WARNINGS} more parameter annotations are ignored: the pod does not ask for their templates`);
  return result;
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
        into.problems.push({ code: 'invalid-annotation', message: `the pod lists ${listed + rest} or more template names; at most ${MAX_TEMPLATES} can be injected into one pod` });
        return;
      }
      if (!DNS1123_SUBDOMAIN.test(name) || name.length > 63) {
        into.problems.push({ code: 'invalid-annotation', message: `${key} lists '${printable(name)}', which is not a template name; list names separated by commas` });
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

function collectParameters(annotations: Record<string, string>, into: Requests, stray: Stray): void {
  const requested = new Set(into.templates.map((t) => t.name));
  for (const [key, value] of Object.entries(annotations)) {
    const parsed = parseTemplateKey(key);
    if (parsed?.kind !== 'parameter') continue;
    // Only the templates asked for (or recorded) are kept: the rest are counted for one warning each, up to a limit.
    if (!requested.has(parsed.template)) {
      stray.count += 1;
      if (stray.count <= MAX_WARNINGS) into.warnings.push(`annotation ${printable(key)} is ignored: the pod does not ask for template ${printable(parsed.template)}`);
      if (!stray.recorded.has(parsed.template)) continue;
    }
    let forTemplate = into.parameters.get(parsed.template);
    if (forTemplate === undefined) into.parameters.set(parsed.template, (forTemplate = new Map()));
    forTemplate.set(parsed.parameter, value);
  }
}

interface Stray {
  count: number;
  recorded: ReadonlySet<string>;
}

