// Namespace objects in the CLI's input stand for the cluster's: their annotations give
// defaults to the manifests in them, where the cluster would send those pods to podpattern
// (see docs/install.md, "Namespace defaults"): in a namespace labelled
// podpattern.dev/defaults=enabled every pod is sent, elsewhere only pods that carry a
// podpattern.dev annotation; and a namespace without the injection label sends none.
import { DEFAULTS_LABEL, INJECTION_LABEL, PATTERN_KEYS, isDomainKey, parseTemplateKey } from '../model/keys.js';

export interface DeclaredNamespace {
  name: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

interface Meta {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown>; labels?: Record<string, unknown> };
}

function strings(record: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(record ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** The Namespace objects among the input's objects, by name. */
export function declaredNamespaces(objects: unknown[]): Map<string, DeclaredNamespace> {
  const found = new Map<string, DeclaredNamespace>();
  for (const object of objects as Meta[]) {
    if (object?.kind !== 'Namespace' || typeof object.metadata?.name !== 'string') continue;
    found.set(object.metadata.name, {
      name: object.metadata.name,
      annotations: strings(object.metadata.annotations),
      labels: strings(object.metadata.labels),
    });
  }
  return found;
}

export interface NamespaceView {
  /** The annotations the webhook would apply to this pod, or undefined when the pod would not reach it. */
  annotations: Record<string, string> | undefined;
  /** Why the cluster would treat the pod differently from what the Namespace's annotations suggest. */
  warning?: string;
}

/** What the webhook would see of a declared namespace for a pod template with these annotations. */
export function viewFor(namespace: DeclaredNamespace, podAnnotations: Record<string, unknown>): NamespaceView {
  const where = `Namespace/${namespace.name} in the input`;
  const mode = namespace.labels[INJECTION_LABEL];
  if (mode !== 'enabled' && mode !== 'required') {
    return {
      annotations: undefined,
      warning: `${where} is not labelled ${INJECTION_LABEL}=enabled (or required), so in a cluster podpattern never sees its pods; injected here as if it were`,
    };
  }
  const givesDefaults = Object.values(PATTERN_KEYS).some((key) => namespace.annotations[key] !== undefined);
  const labelled = namespace.labels[DEFAULTS_LABEL] === 'enabled';
  const podAsks = Object.keys(podAnnotations).some((key) => isDomainKey(key) || parseTemplateKey(key) !== undefined);
  if (givesDefaults && !labelled && !podAsks) {
    return {
      annotations: {},
      warning: `${where} gives podpattern defaults in its annotations but is not labelled ${DEFAULTS_LABEL}=enabled, so in a cluster its pods that carry no podpattern annotation never reach podpattern: the defaults are not applied`,
    };
  }
  return { annotations: namespace.annotations };
}
