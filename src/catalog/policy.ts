// A PatternPolicy object read into the engine's Policy (model/policy.ts), and judged against the
// catalog. Reading needs only the object (the webhook enforces a stored policy as written: a
// template it requires that has since left the catalog denies pods naming both); judging needs
// the catalog too, and is what /validate-policy refuses a write with and what the policy
// controller reports on the status: unknown templates and parameters, values of the wrong
// type, and bounds wider than the template's, every problem at once.
//
// A narrowing can never widen what a pod may set, whatever is stored: the engine checks a value
// against the template's bounds first and the policy's after (engine/params.ts). Refusing a
// wider bound at apply is so its author learns it has no effect.
import type { RE2JS } from 're2js';
import { MAX_TEMPLATE_PATTERN_INSTRUCTIONS, compilePattern, checkParameterValue, expandedSize } from '../template/parameter-value.js';
import { resolveParameters } from '../engine/params.js';
import { narrowingOf } from '../engine/policy.js';
import { didYouMean } from '../engine/suggest.js';
import { POLICY_NAME, type NarrowBounds, type Policy, type RequiredTemplate } from '../model/policy.js';
import type { Catalog, ParameterSpec, Template } from '../model/template.js';
import { policySchemaProblems } from './schema.js';

interface PolicyObject {
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: {
    require?: { template: string; parameters?: Record<string, unknown> }[];
    forbid?: string[];
    narrow?: Record<string, Record<string, NarrowBounds>>;
  };
}

export type ReadPolicy = { ok: true; policy: Policy } | { ok: false; problems: string[] };

/** What the API server keeps of a PatternPolicy that the format knows (status and server metadata dropped). */
export function policyOfObject(object: unknown, namespace?: string): unknown {
  const o = (object ?? {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace ?? namespace },
    spec: o.spec ?? {},
  };
}

/** A stored policy as the engine enforces it: its shape checked and its patterns compiled. */
export function readPolicy(object: unknown, namespace?: string): ReadPolicy {
  const shaped = policyOfObject(object, namespace) as PolicyObject;
  const problems = policySchemaProblems(shaped);
  if (problems.length > 0) return { ok: false, problems };
  const spec = shaped.spec ?? {};
  const patterns = new Map<string, RE2JS>();
  // Compiling costs with the program's size: all of a policy's patterns together are bounded
  // before any is compiled, as a template's are (/validate-policy compiles what any client sends).
  const bounds = Object.values(spec.narrow ?? {}).flatMap((parameters) => Object.values(parameters));
  const total = bounds.reduce((sum, b) => sum + (typeof b.pattern === 'string' ? expandedSize(b.pattern) : 0), 0);
  if (total > MAX_TEMPLATE_PATTERN_INSTRUCTIONS)
    return {
      ok: false,
      problems: [
        `spec.narrow: the patterns together expand to about ${total} instructions, more than ${MAX_TEMPLATE_PATTERN_INSTRUCTIONS}; simplify them`,
      ],
    };
  for (const [template, parameters] of Object.entries(spec.narrow ?? {})) {
    for (const [parameter, bounds] of Object.entries(parameters)) {
      if (bounds.pattern === undefined) continue;
      const at = `spec.narrow.${template}.${parameter}.pattern`;
      if (!bounds.pattern.startsWith('^') || !bounds.pattern.endsWith('$')) {
        problems.push(`${at}: must be anchored with ^ and $ so it bounds the whole value`);
        continue;
      }
      const re = compilePattern({ type: 'string', pattern: bounds.pattern });
      if (typeof re === 'string') problems.push(`${at}: ${re}`);
      else patterns.set(`${template}/${parameter}`, re);
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const require: RequiredTemplate[] = (spec.require ?? []).map(({ template, parameters = {} }) => ({
    template,
    parameters: Object.fromEntries(
      Object.entries(parameters).map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
    ),
  }));
  const policyNamespace = typeof shaped.metadata?.namespace === 'string' ? shaped.metadata.namespace : '';
  return { ok: true, policy: { namespace: policyNamespace, require, forbid: spec.forbid ?? [], narrow: spec.narrow ?? {}, patterns } };
}

/** Every problem of a policy against `catalog` (empty when it fits), the name `default` included. */
export function judgePolicy(object: unknown, catalog: Catalog, namespace?: string): ReadPolicy {
  const name = (object as PolicyObject | null)?.metadata?.name;
  const read = readPolicy(object, namespace);
  const problems = read.ok ? [] : [...read.problems];
  if (name !== POLICY_NAME && !problems.some((p) => p.includes(`'${POLICY_NAME}'`)))
    problems.push(`metadata.name: a namespace has one PatternPolicy, named '${POLICY_NAME}'; name it so`);
  if (!read.ok) return { ok: false, problems };
  const { policy } = read;
  const names = catalog.list().map((t) => t.name);
  const known = (at: string, template: string): Template | undefined => {
    const found = catalog.get(template);
    if (found === undefined) problems.push(`${at}: no template named '${template}' in the catalog${didYouMean(template, names)}`);
    return found;
  };
  for (const [template, parameters] of Object.entries(policy.narrow)) {
    const found = known(`spec.narrow.${template}`, template);
    if (found !== undefined) problems.push(...narrowProblems(found, parameters));
  }
  for (const [i, { template, parameters }] of policy.require.entries()) {
    const found = known(`spec.require[${i}].template`, template);
    if (found === undefined) continue;
    if (policy.forbid.includes(template))
      problems.push(
        `spec.require[${i}].template: ${template} is also forbidden by spec.forbid; a template is required or forbidden, not both`,
      );
    const resolved = resolveParameters(found, new Map(Object.entries(parameters)), narrowingOf(template, policy));
    problems.push(...resolved.problems.map((p) => `spec.require[${i}].parameters: ${p.message}`));
  }
  for (const [i, template] of policy.forbid.entries()) known(`spec.forbid[${i}]`, template);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policy };
}

/** Problems of one template's narrowing: unknown parameters, and bounds that do not fit the parameter or are wider than its own. */
function narrowProblems(template: Template, parameters: Readonly<Record<string, NarrowBounds>>): string[] {
  const problems: string[] = [];
  const declared = template.spec.parameters;
  for (const [name, bounds] of Object.entries(parameters)) {
    const at = `spec.narrow.${template.name}.${name}`;
    const parameter = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (parameter === undefined) {
      const list = Object.keys(declared);
      problems.push(
        `${at}: template ${template.name} has no parameter '${name}'${didYouMean(name, list)}; its parameters are ${list.join(', ') || '(none)'}`,
      );
      continue;
    }
    problems.push(...boundsProblems(at, parameter, bounds, template.compiled.patterns[name]));
  }
  return problems;
}

function boundsProblems(at: string, parameter: ParameterSpec, bounds: NarrowBounds, pattern: RE2JS | undefined): string[] {
  const problems: string[] = [];
  const numeric = parameter.type === 'integer' || parameter.type === 'number';
  if (!numeric && (bounds.minimum !== undefined || bounds.maximum !== undefined))
    problems.push(`${at}: minimum and maximum apply only to integer and number parameters (this one is a ${parameter.type})`);
  if (parameter.type !== 'string' && bounds.pattern !== undefined)
    problems.push(`${at}.pattern: a pattern applies only to string parameters (this one is a ${parameter.type})`);
  if (numeric) {
    const wider = (bound: 'minimum' | 'maximum', value: number | undefined): void => {
      if (value === undefined) return;
      const own = parameter[bound];
      if (!Number.isFinite(value) || (parameter.type === 'integer' && !Number.isSafeInteger(value)))
        problems.push(`${at}.${bound}: ${value} is not ${parameter.type === 'integer' ? 'a whole number' : 'a number'}`);
      else if (own !== undefined && (bound === 'minimum' ? value < own : value > own))
        problems.push(
          `${at}.${bound}: ${value} is wider than the template's ${bound} ${own}; a policy may only narrow a template's bounds`,
        );
    };
    wider('minimum', bounds.minimum);
    wider('maximum', bounds.maximum);
    const low = Math.max(bounds.minimum ?? -Infinity, parameter.minimum ?? -Infinity);
    const high = Math.min(bounds.maximum ?? Infinity, parameter.maximum ?? Infinity);
    if (low > high) problems.push(`${at}: minimum ${low} is greater than maximum ${high}, so no value would be allowed`);
  }
  for (const [i, value] of (bounds.enum ?? []).entries()) {
    const fault = checkParameterValue(parameter, value, pattern);
    if (fault !== undefined)
      problems.push(
        `${at}.enum[${i}]: ${JSON.stringify(value)} is not a value the template allows (it ${fault}); a policy may only narrow a template's bounds`,
      );
  }
  return problems;
}
