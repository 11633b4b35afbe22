// The structural schema of a PatternTemplate object, checked with ajv (a maintained JSON Schema
// validator, so we do not hand-write type checks). Semantic rules that JSON Schema cannot say
// well (placeholders, defaults inside their own bounds, duplicate names) live in validate.ts.
import { Ajv, type ErrorObject } from 'ajv';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const scalar = { type: ['string', 'number', 'boolean'] } as const;
// Kubernetes objects inside a template are checked for the fields the engine relies on; the
// rest is Kubernetes' to validate when the pod is created (and the golden tests check pods
// against the Pod schema).
const container = {
  type: 'object',
  required: ['name', 'image'],
  properties: {
    name: { type: 'string', minLength: 1 },
    image: { type: 'string', minLength: 1 },
    ports: { type: 'array', items: { type: 'object', required: ['containerPort'] } },
    volumeMounts: { type: 'array', items: { type: 'object', required: ['name', 'mountPath'] } },
    env: { type: 'array', items: { type: 'object', required: ['name'] } },
  },
} as const;

export const templateSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'podpattern.dev/v1alpha1' },
    kind: { const: 'PatternTemplate' },
    metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } },
    spec: {
      type: 'object',
      required: ['pattern', 'description'],
      additionalProperties: false,
      properties: {
        pattern: { enum: ['sidecar', 'ambassador', 'adapter'] },
        description: { type: 'string', minLength: 1 },
        parameters: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['type'],
            additionalProperties: false,
            properties: {
              type: { enum: ['string', 'integer', 'number', 'boolean'] },
              description: { type: 'string' },
              default: scalar,
              required: { type: 'boolean' },
              enum: { type: 'array', minItems: 1, items: scalar },
              pattern: { type: 'string', minLength: 1 },
              minimum: { type: 'number' },
              maximum: { type: 'number' },
              maxLength: { type: 'integer', minimum: 1 },
            },
          },
        },
        containers: { type: 'array', items: container },
        initContainers: { type: 'array', items: container },
        volumes: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
        files: stringMap,
        app: {
          type: 'object',
          additionalProperties: false,
          properties: {
            env: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
            volumeMounts: {
              type: 'array',
              items: { type: 'object', required: ['name', 'mountPath'], properties: { name: { type: 'string' }, mountPath: { type: 'string' } } },
            },
          },
        },
        podAnnotations: stringMap,
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const check = ajv.compile(templateSchema);

/** Every structural problem as `path: message`, or none. */
export function schemaProblems(object: unknown): string[] {
  if (check(object)) return [];
  return (check.errors ?? []).map(describe);
}

function describe(error: ErrorObject): string {
  const path = error.instancePath === '' ? '(top)' : error.instancePath.slice(1).replaceAll('/', '.');
  switch (error.keyword) {
    case 'additionalProperties':
      return `${path}: unknown field '${String(error.params['additionalProperty'])}'`;
    case 'required':
      return `${path}: missing required field '${String(error.params['missingProperty'])}'`;
    case 'enum':
      return `${path}: must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
    case 'const':
      return `${path}: must be ${JSON.stringify(error.params['allowedValue'])}`;
    default:
      return `${path}: ${error.message ?? 'is invalid'}`;
  }
}
