// The PatternTemplate CustomResourceDefinition (group podpattern.dev, v1alpha1, cluster-scoped), as data.
//
// This module is the single source of the CRD: helm/podpattern/files/ (rendered by templates/crd.yaml) and webhook-config/ hold
// YAML renderings of `patternTemplateCrd`, and test/install/crd.test.ts fails when they drift
// (PODPATTERN_UPDATE_GOLDEN=1 rewrites them). The schema is structural, so the API server
// prunes unknown fields; Kubernetes objects inside a template (containers, volumes, env,
// volumeMounts) keep their fields (`x-kubernetes-preserve-unknown-fields`) because their
// real validation happens when the pod they end up in is admitted.
//
// The API server only checks shape. Type-dependent rules (a default of the declared type,
// placeholders that name declared parameters, ...) are the catalog loader's job, which
// reports them on the object's Ready condition.

import { rolloutStatusSchema } from './rollout-status-schema.js';
import { DOMAIN, parameterKey } from '../model/keys.js';
import { DNS1123_LABEL, MAX_LABEL, PARAMETER_NAME } from '../template/names.js';
import { KNOWN_OS, TEMPLATE_GROUP, TEMPLATE_KIND, TEMPLATE_PLURAL, TEMPLATE_VERSION } from '../model/template.js';

/** Template parameter names: they appear in annotation keys, `<template>.podpattern.dev/<param>`. */
export const PARAMETER_NAME_PATTERN = PARAMETER_NAME.source;

/** Template names: a DNS label, because they become part of annotation key prefixes. */
export const TEMPLATE_NAME_PATTERN = DNS1123_LABEL.source;

type Schema = Record<string, unknown>;

const preservedObject = (description: string, required: string[] = []): Schema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
  ...(required.length > 0
    ? { required, properties: Object.fromEntries(required.map((key) => [key, { type: 'string', minLength: 1 }])) }
    : {}),
});

const stringList = (description: string): Schema => ({ type: 'array', description, items: { type: 'string' } });

/** A probe's network handler: its host and port are read when the template loads (probes.ts). */
const probeHandler: Schema = {
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
  properties: { host: { type: 'string' }, port: { 'x-kubernetes-int-or-string': true } },
};

const probe = (description: string): Schema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
  properties: { tcpSocket: probeHandler, httpGet: probeHandler },
});

/**
 * A Kubernetes Container, with the fields the engine and the loader read typed (a string where
 * a list belongs is refused here, before any code reads it) and required (ports need a
 * containerPort, mounts a name and a path, env entries a name); the rest is checked by
 * Kubernetes when the pod is created. A containerPort may be a `$(params.NAME)` placeholder.
 */
const container = (description: string): Schema => ({
  ...preservedObject(description, ['name', 'image']),
  properties: {
    name: { type: 'string', minLength: 1 },
    image: { type: 'string', minLength: 1 },
    command: stringList('The entrypoint, one word a string.'),
    args: stringList('Arguments to the entrypoint, one word a string.'),
    ports: {
      type: 'array',
      items: {
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        required: ['containerPort'],
        properties: { containerPort: { 'x-kubernetes-int-or-string': true }, name: { type: 'string' } },
      },
    },
    volumeMounts: { type: 'array', items: preservedObject('A Kubernetes VolumeMount.', ['name', 'mountPath']) },
    env: { type: 'array', items: preservedObject('A Kubernetes EnvVar.', ['name']) },
    startupProbe: probe('A Kubernetes Probe.'),
    readinessProbe: probe('A Kubernetes Probe.'),
    livenessProbe: probe('A Kubernetes Probe.'),
  },
});

const stringMap = (description: string): Schema => ({
  type: 'object',
  description,
  additionalProperties: { type: 'string' },
});

/** A Kubernetes LabelSelector (metav1.LabelSelector), bounded. */
export const labelSelectorSchema = (description: string): Schema => ({
  type: 'object',
  description,
  properties: {
    matchLabels: { type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 63 } },
    matchExpressions: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', minLength: 1, maxLength: 317 },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 63 } },
        },
        'x-kubernetes-validations': [
          {
            rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
            message: 'In and NotIn need values; Exists and DoesNotExist take none',
          },
        ],
      },
    },
  },
});

/** A ServiceAccount as `name` or `namespace/name`. */
export const SERVICE_ACCOUNT_PATTERN = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';

const availabilitySchema: Schema = {
  type: 'object',
  description:
    'Who may use the template (default: every namespace podpattern serves). A pod outside it that asks for the template is denied (not-available); namespace defaults skip it there.',
  properties: {
    namespaceSelector: labelSelectorSchema(
      "The namespaces whose pods may use the template, by the namespace's labels (kubernetes.io/metadata.name holds its name).",
    ),
    serviceAccounts: {
      type: 'array',
      description:
        'The ServiceAccounts whose pods may use the template: a name (in any selected namespace) or namespace/name. Absent: any.',
      minItems: 1,
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 317, pattern: SERVICE_ACCOUNT_PATTERN },
      'x-kubernetes-list-type': 'set',
    },
  },
};

/** The smallest and largest request of one resource, as Kubernetes quantities; the loader reads them. */
const sizingBounds = (resource: string, example: string): Schema => ({
  type: 'object',
  description: `The ${resource} request a pod may set for each of the template's containers (quantities, e.g. ${example}).`,
  required: ['min', 'max'],
  properties: {
    min: { type: 'string', minLength: 1, maxLength: 64, description: 'The smallest request.' },
    max: { type: 'string', minLength: 1, maxLength: 64, description: 'The largest request.' },
  },
});

/**
 * Bounds of spec.rollout, one place for the schema and the docs. A soak or health timeout of
 * more than a week is a rollout nobody watches; restarts beyond 50 at once are a cluster-wide
 * restart, which `restart: manual` and the printed commands already are.
 */
export const ROLLOUT_BOUNDS = {
  soakSeconds: { minimum: 0, maximum: 604_800 },
  maxConcurrent: { minimum: 1, maximum: 50 },
  healthTimeoutSeconds: { minimum: 30, maximum: 604_800 },
  maxInjectedRestarts: { minimum: 0, maximum: 100 },
} as const;

/** How a changed spec reaches running workloads. Optional; absent keeps today's behaviour (manual). */
const rolloutSchema: Schema = {
  type: 'object',
  description:
    'How a changed spec reaches the workloads already running it. Absent: restart manual (podpattern status prints the commands). Changing it does not change the content hash pods record.',
  properties: {
    canary: {
      type: 'object',
      description:
        'Stage a changed spec: only pods in the namespaces the selector selects get it first; the others keep the previous revision until the canary has passed its health gate for soakSeconds.',
      required: ['namespaceSelector'],
      properties: {
        namespaceSelector: labelSelectorSchema(
          'The canary namespaces (a label selector on Namespaces). One that selects no namespace is accepted with a warning.',
        ),
        soakSeconds: {
          type: 'integer',
          ...ROLLOUT_BOUNDS.soakSeconds,
          description: 'How long the canary must stay healthy before every namespace gets the new revision (default 600).',
        },
      },
    },
    restart: {
      type: 'string',
      enum: ['manual', 'auto'],
      description:
        'manual (default): workloads running an outdated revision are listed by podpattern status. auto: podpattern restarts outdated Deployments, StatefulSets and DaemonSets, as kubectl rollout restart does.',
    },
    maxConcurrent: {
      type: 'integer',
      ...ROLLOUT_BOUNDS.maxConcurrent,
      description: 'Workloads restarting at once, cluster-wide (default 1); never more than one per namespace.',
    },
    healthTimeoutSeconds: {
      type: 'integer',
      ...ROLLOUT_BOUNDS.healthTimeoutSeconds,
      description: "A restarted workload's rollout must complete within this (default 600), or the template's rollout pauses.",
    },
    maxInjectedRestarts: {
      type: 'integer',
      ...ROLLOUT_BOUNDS.maxInjectedRestarts,
      description:
        "Restarts of the injected containers of a restarted workload's new pods, all told, past which the rollout pauses (default 0).",
    },
  },
};

/** A value of any of the parameter types; the loader checks it against the declared `type`. */
export const anyScalar = (description: string): Schema => ({
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});

const parameterSchema: Schema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: {
      type: 'string',
      enum: ['string', 'integer', 'number', 'boolean'],
      description: 'The value type; annotation values are converted to it.',
    },
    description: { type: 'string', description: 'Shown by `podpattern templates NAME` and in denial messages.' },
    default: anyScalar('Used when the pod sets no value. Must be of the declared type.'),
    required: { type: 'boolean', description: 'A pod that asks for this template must set the parameter.' },
    enum: { type: 'array', minItems: 1, description: 'The only values allowed.', items: anyScalar('An allowed value.') },
    pattern: { type: 'string', minLength: 1, maxLength: 1024, description: 'A regular expression a string value must match (anchor it).' },
    minimum: { type: 'number', description: 'The smallest allowed number.' },
    maximum: { type: 'number', description: 'The largest allowed number.' },
    maxLength: { type: 'integer', minimum: 1, description: 'The longest allowed string.' },
  },
  'x-kubernetes-validations': [
    {
      rule: '!has(self.minimum) || !has(self.maximum) || self.minimum <= self.maximum',
      message: 'minimum must not be greater than maximum',
    },
  ],
};

export const conditionSchema: Schema = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string', description: 'Ready: the catalog accepted this template.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string' },
    message: { type: 'string', description: 'Every problem found, with how to fix it.' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
  },
};

/** The top of a CRD's openAPIV3Schema: the usual apiVersion, kind and metadata, with this spec and status. */
export function resourceSchema(
  description: string,
  parts: { spec: Schema; status: Schema },
  validations: { rule: string; message: string }[],
): Schema {
  return {
    type: 'object',
    description,
    required: ['spec'],
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...parts },
    'x-kubernetes-validations': validations,
  };
}

/** The `openAPIV3Schema` of PatternTemplate v1alpha1. */
export const patternTemplateSchema: Schema = resourceSchema(
  'A set of containers, volumes and files that podpattern injects into pods that ask for it by name.',
  {
    spec: {
      type: 'object',
      required: ['pattern', 'description'],
      properties: {
        pattern: {
          type: 'string',
          enum: ['sidecar', 'ambassador', 'adapter'],
          description: `Which annotation selects this template: ${DOMAIN}/<pattern>.`,
        },
        description: { type: 'string', minLength: 1, description: 'One line on what the template does.' },
        parameters: {
          type: 'object',
          description: `What pods may set, as ${parameterKey('<template>', '<parameter>')} annotations. Nothing else is settable.`,
          // Names are checked against PARAMETER_NAME_PATTERN by the catalog loader: a CEL rule over
          // map keys of unbounded length would exceed the API server's cost budget.
          maxProperties: 32,
          additionalProperties: parameterSchema,
        },
        containers: {
          type: 'array',
          description:
            'Kubernetes Container objects added to the pod. $(params.NAME), $(pod.name) and $(pod.namespace) are substituted in string values.',
          items: container('A Kubernetes Container.'),
        },
        initContainers: {
          type: 'array',
          description: 'Kubernetes Container objects added as init containers.',
          items: container('A Kubernetes Container.'),
        },
        volumes: {
          type: 'array',
          description: 'Kubernetes Volume objects added to the pod.',
          items: preservedObject('A Kubernetes Volume.', ['name']),
        },
        files: stringMap('Config files rendered from parameters, mounted through a downwardAPI volume (file name -> text).'),
        app: {
          type: 'object',
          description: "Wiring into the application's own containers.",
          properties: {
            env: { type: 'array', items: preservedObject('A Kubernetes EnvVar.', ['name']) },
            volumeMounts: { type: 'array', items: preservedObject('A Kubernetes VolumeMount.', ['name', 'mountPath']) },
          },
        },
        podAnnotations: stringMap('Annotations added to the pod, e.g. Prometheus scrape hints for an adapter.'),
        imagePullSecrets: {
          type: 'array',
          description:
            "Secrets for pulling the template's images from a private registry, added to the pod's imagePullSecrets once by name.",
          maxItems: 16,
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: {
                type: 'string',
                minLength: 1,
                maxLength: 253,
                pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
                description: "The name of a Secret in the pod's namespace.",
              },
            },
          },
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        },
        os: {
          type: 'array',
          description: `The operating systems (node label kubernetes.io/os) the template's containers run on; default [linux]. A pod for another one is denied (unsupported-os).`,
          minItems: 1,
          maxItems: 8,
          items: { type: 'string', enum: KNOWN_OS },
          'x-kubernetes-list-type': 'set',
        },
        sizing: {
          type: 'object',
          description: `Bounds of the per-pod requests: a pod sets ${parameterKey('<template>', 'cpu')} and ${parameterKey('<template>', 'memory')} within them, and each limit the template sets keeps its ratio to the request. Without bounds for a resource, pods cannot set it.`,
          properties: { cpu: sizingBounds('cpu', '250m'), memory: sizingBounds('memory', '64Mi') },
        },
        keepLocalVolumes: {
          type: 'boolean',
          description:
            'Its emptyDir volumes hold what must not be lost: they are not added to cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes (by default they are).',
        },
        rollout: rolloutSchema,
        availability: availabilitySchema,
        startBeforeApp: {
          type: 'boolean',
          description:
            "Whether the template's containers are started, and Ready, before the app's: native sidecars gated by their startup probes, on servers that have native sidecars (Kubernetes 1.29 and later). Unset: true for the sidecar and ambassador patterns, false for adapters.",
        },
      },
    },
    status: {
      type: 'object',
      description:
        'Written by podpattern: whether the catalog accepted the template, and why not (Ready); where its rollout stands (RolloutPaused, rollout).',
      properties: {
        conditions: {
          type: 'array',
          items: conditionSchema,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
        },
        rollout: rolloutStatusSchema,
      },
    },
  },
  [
    {
      rule: `size(self.metadata.name) <= ${MAX_LABEL} && self.metadata.name.matches('${TEMPLATE_NAME_PATTERN}')`,
      message: 'the name must be a DNS label (at most 63 lower-case letters, digits and "-"): it is used in annotation keys',
    },
  ],
);

export const READY_COLUMN = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
export const AGE_COLUMN = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** What tells one of podpattern's CRDs from the other. */
export interface CrdNames {
  kind: string;
  plural: string;
  singular: string;
  shortName: string;
  scope: 'Cluster' | 'Namespaced';
  printerColumns: { name: string; type: string; jsonPath: string; priority?: number }[];
  schema: Schema;
}

/** A CustomResourceDefinition of group podpattern.dev, version v1alpha1, with a status subresource. */
export function crdOf(names: CrdNames) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${names.plural}.${TEMPLATE_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'podpattern', 'app.kubernetes.io/part-of': 'podpattern' },
    },
    spec: {
      group: TEMPLATE_GROUP,
      scope: names.scope,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [names.shortName],
        categories: ['podpattern'],
      },
      versions: [
        {
          name: TEMPLATE_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: names.printerColumns,
          schema: { openAPIV3Schema: names.schema },
        },
      ],
    },
  };
}

/** The whole CustomResourceDefinition object, as applied to the cluster. */
export const patternTemplateCrd = crdOf({
  kind: TEMPLATE_KIND,
  plural: TEMPLATE_PLURAL,
  singular: 'patterntemplate',
  shortName: 'ptpl',
  scope: 'Cluster',
  printerColumns: [
    { name: 'Pattern', type: 'string', jsonPath: '.spec.pattern' },
    READY_COLUMN,
    { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
    { name: 'Rollout', type: 'string', jsonPath: '.status.rollout.phase', priority: 1 },
    AGE_COLUMN,
  ],
  schema: patternTemplateSchema,
});
