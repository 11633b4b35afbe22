// Reads what a pod asks for from its annotations (SPEC §3), falling back to its namespace's
// defaults (SPEC §4) when the pod names no template itself.
import { PATTERNS, type Pattern } from '../catalog/types.js';
import { DNS1123_SUBDOMAIN } from '../catalog/names.js';
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

export function readRequests(podAnnotations: Record<string, string>, namespaceAnnotations: Record<string, string>): Requests {
  const result: Requests = { optedOut: false, templates: [], parameters: new Map(), origin: 'none', problems: [], warnings: [] };
  const inject = podAnnotations[INJECT_KEY];
  if (inject === 'false') return { ...result, optedOut: true };
  if (inject !== undefined && inject !== 'true') {
    result.problems.push({ code: 'invalid-annotation', message: `${INJECT_KEY} is '${inject}'; set it to "false" to opt the pod out, or remove it` });
  }
  for (const key of Object.keys(podAnnotations)) {
    if (isDomainKey(key) && !KNOWN_DOMAIN_KEYS.has(key)) {
      result.problems.push({ code: 'invalid-annotation', message: `${key} is not a podpattern annotation; use one of ${[...KNOWN_DOMAIN_KEYS].join(', ')}` });
    }
  }

  const podAsks = PATTERNS.some((p) => podAnnotations[PATTERN_KEYS[p]] !== undefined);
  const namespaceAsks = PATTERNS.some((p) => namespaceAnnotations[PATTERN_KEYS[p]] !== undefined);
  const listSource = podAsks ? podAnnotations : namespaceAnnotations;
  result.origin = podAsks ? 'pod' : namespaceAsks ? 'namespace' : 'none';
  readTemplateLists(listSource, result);

  // Namespace parameters are defaults; the pod's own parameter annotations win.
  if (!podAsks) collectParameters(namespaceAnnotations, result);
  collectParameters(podAnnotations, result);
  warnAboutStrayParameters(result);
  return result;
}

function readTemplateLists(annotations: Record<string, string>, into: Requests): void {
  const seen = new Set<string>();
  for (const pattern of PATTERNS) {
    const key = PATTERN_KEYS[pattern];
    const value = annotations[key];
    if (value === undefined) continue;
    for (const raw of value.split(',')) {
      const name = raw.trim();
      if (name === '') continue;
      if (!DNS1123_SUBDOMAIN.test(name) || name.length > 63) {
        into.problems.push({ code: 'invalid-annotation', message: `${key} lists '${truncate(name)}', which is not a template name; list names separated by commas` });
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

function collectParameters(annotations: Record<string, string>, into: Requests): void {
  for (const [key, value] of Object.entries(annotations)) {
    const parsed = parseTemplateKey(key);
    if (parsed?.kind !== 'parameter') continue;
    let forTemplate = into.parameters.get(parsed.template);
    if (forTemplate === undefined) into.parameters.set(parsed.template, (forTemplate = new Map()));
    forTemplate.set(parsed.parameter, value);
  }
}

function warnAboutStrayParameters(into: Requests): void {
  const requested = new Set(into.templates.map((t) => t.name));
  for (const [template, parameters] of into.parameters) {
    if (requested.has(template)) continue;
    for (const parameter of parameters.keys()) {
      into.warnings.push(`annotation ${template}.podpattern.dev/${parameter} is ignored: the pod does not ask for template ${template}`);
    }
  }
}

/** Keeps hostile values from flooding a message. */
export function truncate(text: string, max = 64): string {
  const printable = JSON.stringify(text).slice(1, -1);
  return printable.length <= max ? printable : `${printable.slice(0, max)}…`;
}
