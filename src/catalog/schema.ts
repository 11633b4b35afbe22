// The structural check of a PatternTemplate object: the CRD's own openAPIV3Schema
// (crd-schema.ts), applied with ajv the way the API server applies it, so a template is held to
// the same shape whether it ships built in, comes from --catalog-dir or from the cluster.
// Two API server behaviours are reproduced here:
// - unknown fields: where the schema lists an object's properties and does not preserve unknown
//   ones, the API server drops any other field (or refuses it, under kubectl's default strict
//   field validation). Here they are refused, so a misspelt field is reported, never ignored.
// - `x-kubernetes-validations`: the CEL rules are evaluated with @marcbachmann/cel-js (a CEL
//   implementation in JavaScript with the standard functions cel-go has: has, size, matches).
// And what the API server enforces for every object: apiVersion and kind name this API, and
// metadata.name is set. Semantic rules JSON Schema cannot state live in validate.ts.
import { parse } from '@marcbachmann/cel-js';
import { Ajv, type ErrorObject } from 'ajv';
import { patternTemplateSchema } from './crd-schema.js';
import { patternPolicySchema } from './policy-schema.js';
import { POLICY_KIND } from '../model/policy.js';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND } from '../model/template.js';

type Schema = Record<string, unknown>;
interface Rule {
  rule: string;
  message: string;
}

/**
 * The CRD schema with unknown fields refused where the API server would prune them, below the
 * top level: the cluster source hands over only apiVersion, kind, metadata.name and spec of an
 * object (templateOfObject), so other top-level fields are ignored from files too.
 */
function refusingUnknownFields(schema: unknown, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((item) => refusingUnknownFields(item, false));
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Schema = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [key, key === 'x-kubernetes-validations' ? value : refusingUnknownFields(value, false)]),
  );
  if (
    !top &&
    copy.type === 'object' &&
    copy.properties !== undefined &&
    copy['x-kubernetes-preserve-unknown-fields'] !== true &&
    copy.additionalProperties === undefined
  ) {
    copy.additionalProperties = false;
  }
  return copy;
}

/** The schema the loader applies: the CRD's (PatternTemplate's unless told), plus what the API server checks of every object. */
export function loaderSchema(crdSchema: Schema = patternTemplateSchema, kind = TEMPLATE_KIND): Schema {
  const schema = refusingUnknownFields(crdSchema) as Schema & { properties: Record<string, Schema> };
  return {
    ...schema,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      ...schema.properties,
      apiVersion: { const: TEMPLATE_API_VERSION },
      kind: { const: kind },
      // Labels, annotations and the rest of an object's metadata are the API server's business.
      metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
    },
  };
}

function compile(schema: Schema): (object: unknown) => ErrorObject[] {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
    formats: { 'date-time': true, int64: true },
  });
  for (const keyword of ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-list-map-keys']) ajv.addKeyword({ keyword });
  // The API server refuses a repeated item of a `set` list, and two items of a `map` list with
  // the same keys (Kubernetes docs, "Extend the Kubernetes API with CustomResourceDefinitions").
  ajv.addKeyword({
    keyword: 'x-kubernetes-list-type',
    errors: true,
    compile(type: string, parent: Schema) {
      const keys = (parent['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const identity = (item: unknown): string =>
        type === 'map' && item !== null && typeof item === 'object'
          ? JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k]))
          : JSON.stringify(item);
      const validate = (data: unknown): boolean => {
        if ((type !== 'set' && type !== 'map') || !Array.isArray(data)) return true;
        const seen = new Set<string>();
        const repeated = data.map(identity).find((id) => seen.size === seen.add(id).size);
        (validate as unknown as { errors: Partial<ErrorObject>[] }).errors =
          repeated === undefined ? [] : [{ keyword: 'x-kubernetes-list-type', message: `holds ${repeated} twice`, params: {} }];
        return repeated === undefined;
      };
      return validate;
    },
  });
  ajv.addKeyword({
    keyword: 'x-kubernetes-int-or-string',
    validate: (flag: boolean, data: unknown) => !flag || typeof data === 'string' || Number.isInteger(data),
  });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    errors: true,
    compile(rules: Rule[]) {
      const compiled = rules.map(({ rule, message }) => ({ evaluate: parse(rule), message }));
      const validate = (data: unknown): boolean => {
        // A rule that cannot be evaluated met a value of the wrong shape, which the schema's
        // other keywords already report.
        const failed = compiled.filter(({ evaluate }) => {
          try {
            return evaluate({ self: data }) !== true;
          } catch {
            return false;
          }
        });
        (validate as unknown as { errors: Partial<ErrorObject>[] }).errors = failed.map(({ message }) => ({
          keyword: 'x-kubernetes-validations',
          message,
          params: {},
        }));
        return failed.length === 0;
      };
      return validate;
    },
  });
  const check = ajv.compile(schema);
  return (object) => (check(object) ? [] : (check.errors ?? []));
}

const check = compile(loaderSchema());
const checkPolicy = compile(loaderSchema(patternPolicySchema, POLICY_KIND));

/** Every structural problem of a PatternTemplate as `path: message`, or none. */
export function schemaProblems(object: unknown): string[] {
  return check(object).map(schemaProblem);
}

/** Every structural problem of a PatternPolicy as `path: message`, or none. */
export function policySchemaProblems(object: unknown): string[] {
  return checkPolicy(object).map(schemaProblem);
}

function schemaProblem(error: ErrorObject): string {
  const path = error.instancePath === '' ? '(top)' : error.instancePath.slice(1).replaceAll('/', '.');
  switch (error.keyword) {
    case 'additionalProperties':
      return `${path}: unknown field '${String(error.params['additionalProperty'])}'`;
    case 'required':
      return `${path}: missing required field '${String(error.params['missingProperty'])}'`;
    case 'enum':
      return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
    case 'x-kubernetes-int-or-string':
      return `${path}: must be an integer or a string`;
    case 'const':
      return `${path}: must be ${JSON.stringify(error.params['allowedValue'])}`;
    default:
      return `${path}: ${error.message ?? 'is invalid'}`;
  }
}
