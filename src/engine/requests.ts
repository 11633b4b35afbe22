// Reads what a pod asks for from its annotations, falling back to its namespace's
// defaults when the pod names no template itself.
import { PATTERNS, type Pattern } from '../catalog/types.js';
import { DNS1123_SUBDOMAIN } from '../catalog/names.js';
import { DOMAIN, INJECT_KEY, PATTERN_KEYS, STATUS_KEY, isDomainKey, parseTemplateKey } from './keys.js';
import type { Problem } from './types.js';
import { didYouMean } from './suggest.js';

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

export function readRequests(rawPodAnnotations: Record<string, string>, namespaceAnnotations: Record<string, string>): Requests {
  const result: Requests = { optedOut: false, templates: [], parameters: new Map(), origin: 'none', problems: [], warnings: [] };
  const podAnnotations = stringValues(rawPodAnnotations, result.problems);
  const inject = podAnnotations[INJECT_KEY];
  if (inject === 'false') return { ...result, optedOut: true };
  if (inject !== undefined && inject !== 'true') {
    result.problems.push({ code: 'invalid-annotation', message: `${INJECT_KEY} is '${inject}'; set it to "false" to opt the pod out, or remove it` });
  }
  for (const key of Object.keys(podAnnotations)) {
    if (isDomainKey(key) && !KNOWN_DOMAIN_KEYS.has(key)) {
      result.problems.push({
        code: 'invalid-annotation',
        message: `${truncate(key)} is not a podpattern annotation${didYouMean(key, KNOWN_DOMAIN_KEYS)}; the ${DOMAIN}/ keys are ${[...KNOWN_DOMAIN_KEYS].join(', ')}`,
      });
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

/**
 * Annotation values are strings to Kubernetes. A manifest read by the CLI can carry an
 * unquoted `false` or `8080` (YAML reads a boolean or a number): say so, and how to quote it,
 * rather than misread it. Keys outside podpattern's domain are not ours to judge.
 */
function stringValues(annotations: Record<string, unknown>, problems: Problem[]): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (typeof value === 'string') strings[key] = value;
    else if (isDomainKey(key) || parseTemplateKey(key) !== undefined) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'a map' : `the ${typeof value} ${String(value)}`;
      const quoted = value === null || typeof value === 'object' ? '"…"' : JSON.stringify(String(value));
      problems.push({ code: 'invalid-annotation', message: `${truncate(key)} is ${what}, not a string: annotation values are strings, so quote it (${truncate(key)}: ${quoted})` });
    }
  }
  return strings;
}

/** Keeps hostile values from flooding a message. */
export function truncate(text: string, max = 64): string {
  const printable = JSON.stringify(text).slice(1, -1);
  return printable.length <= max ? printable : `${printable.slice(0, max)}…`;
}
