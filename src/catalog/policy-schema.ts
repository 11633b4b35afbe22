// The PatternPolicy CustomResourceDefinition (group podpattern.dev, v1alpha1, namespaced), as
// data: the chart's and webhook-config/'s CRD files are renderings of `patternPolicyCrd`
// (test/install/crd.test.ts fails when they drift). The schema checks shape, and the name
// `default` (the one policy of a namespace that counts) with a CEL rule, so the API server
// refuses another name even while podpattern is down. Whether a policy fits the catalog (its
// templates and parameters exist, its bounds only tighten) is /validate-policy's to check
// (src/catalog/policy.ts), and the policy controller's, which reports it on the status.
import { AGE_COLUMN, READY_COLUMN, anyScalar, conditionSchema, crdOf, resourceSchema, TEMPLATE_NAME_PATTERN } from './crd-schema.js';
import { POLICY_KIND, POLICY_NAME, POLICY_PLURAL } from '../model/policy.js';
import { MAX_LABEL } from '../template/names.js';
import { INJECT_KEY } from '../model/keys.js';

type Schema = Record<string, unknown>;

/** At most this many templates required, forbidden or narrowed by one policy. */
export const MAX_POLICY_TEMPLATES = 32;

const templateName: Schema = { type: 'string', minLength: 1, maxLength: MAX_LABEL, pattern: TEMPLATE_NAME_PATTERN };

const narrowBounds: Schema = {
  type: 'object',
  description: "Bounds tighter than the template's own, checked as well as them: a value must meet both.",
  properties: {
    minimum: { type: 'number', description: "The smallest allowed number (not below the template's minimum)." },
    maximum: { type: 'number', description: "The largest allowed number (not above the template's maximum)." },
    enum: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      description: 'The only values allowed (each one the template allows).',
      items: anyScalar('An allowed value.'),
    },
    pattern: {
      type: 'string',
      minLength: 2,
      maxLength: 1024,
      description: "An anchored regular expression a string value must match, as well as the template's pattern.",
    },
  },
};

export const patternPolicySchema: Schema = resourceSchema(
  "What the templates podpattern injects must be in this namespace: templates every pod gets, templates none may ask for, and parameter bounds tighter than the templates'. Only the policy named 'default' counts.",
  {
    spec: {
      type: 'object',
      properties: {
        require: {
          type: 'array',
          description: `Templates injected into every pod created in the namespace, whatever its annotations; ${INJECT_KEY}: "false" is refused (required-by-policy).`,
          maxItems: MAX_POLICY_TEMPLATES,
          items: {
            type: 'object',
            required: ['template'],
            properties: {
              template: templateName,
              parameters: {
                type: 'object',
                description: "Parameter values, as on a pod's annotations; a pod's own annotations may change them within the bounds.",
                maxProperties: 32,
                additionalProperties: anyScalar("A value of the parameter's type."),
              },
            },
          },
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['template'],
        },
        forbid: {
          type: 'array',
          description: 'Templates no pod of the namespace may ask for (forbidden-by-policy); namespace defaults skip them.',
          maxItems: MAX_POLICY_TEMPLATES,
          items: templateName,
          'x-kubernetes-list-type': 'set',
        },
        narrow: {
          type: 'object',
          description: "By template, then parameter: bounds tighter than the template's. A bound wider than the template's is refused.",
          maxProperties: MAX_POLICY_TEMPLATES,
          additionalProperties: { type: 'object', maxProperties: 32, additionalProperties: narrowBounds },
        },
      },
    },
    status: {
      type: 'object',
      description: 'Written by podpattern: whether the policy fits the catalog, and the templates it resolved.',
      properties: {
        observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
        conditions: { type: 'array', items: conditionSchema, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
        templates: {
          type: 'array',
          description: 'The templates the policy names, as the catalog resolved them.',
          items: {
            type: 'object',
            required: ['name', 'role'],
            properties: {
              name: { type: 'string' },
              role: { type: 'string', enum: ['required', 'forbidden', 'narrowed'] },
              hash: { type: 'string', description: 'The content hash of the template in force (empty when the catalog lacks it).' },
            },
          },
        },
      },
    },
  },
  [
    {
      rule: `self.metadata.name == '${POLICY_NAME}'`,
      message: `a namespace has one PatternPolicy, named '${POLICY_NAME}'; name it so`,
    },
  ],
);

/** The whole CustomResourceDefinition object, as applied to the cluster. */
export const patternPolicyCrd = crdOf({
  kind: POLICY_KIND,
  plural: POLICY_PLURAL,
  singular: 'patternpolicy',
  shortName: 'ppol',
  scope: 'Namespaced',
  printerColumns: [
    READY_COLUMN,
    { name: 'Require', type: 'string', jsonPath: '.spec.require[*].template' },
    { name: 'Forbid', type: 'string', jsonPath: '.spec.forbid', priority: 1 },
    AGE_COLUMN,
  ],
  schema: patternPolicySchema,
});
