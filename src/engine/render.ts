// Structural substitution: placeholders are replaced inside string values of the
// already-parsed template, never by pasting text into YAML or JSON, so no value can add a
// field, close a string or start a new object. One pass: substituted text is not re-scanned.
import { PLACEHOLDER, WHOLE_PLACEHOLDER } from '../catalog/placeholders.js';
import type { ParameterValue, TemplateSpec } from '../model/template.js';
import type { Values } from './params.js';

export interface PodFacts {
  name: string;
  namespace: string;
}

export type Rendered = Pick<TemplateSpec, 'containers' | 'initContainers' | 'volumes' | 'files' | 'app' | 'podAnnotations'>;

export function renderTemplate(spec: TemplateSpec, values: Values, pod: PodFacts): Rendered {
  const lookup = (ref: string): ParameterValue => {
    if (ref === 'pod.name') return pod.name;
    if (ref === 'pod.namespace') return pod.namespace;
    // The catalog refused templates naming undeclared parameters, and optional parameters
    // without a default render as an empty string.
    return values.get(ref.slice('params.'.length)) ?? '';
  };
  const { containers, initContainers, volumes, files, app, podAnnotations } = spec;
  return substitute({ containers, initContainers, volumes, files, app, podAnnotations }, lookup, 'plain') as Rendered;
}

// Kubernetes expands $(VAR) in a container's command, args and env values, with $$ as the
// escape for a literal $ (Kubernetes docs, "Define dependent environment variables"). A
// parameter value placed there must not reach another variable, so its $ are doubled.
export type Mode = 'plain' | 'env-list' | 'expanded';

/**
 * Kubernetes fields that hold a number or a boolean (core/v1 Container, Volume and probe
 * types). A string that is exactly one placeholder keeps the parameter's type only here;
 * everywhere else (env values, args, annotations, files) Kubernetes wants a string.
 */
export const TYPED_FIELDS = new Set([
  'containerPort', 'hostPort', 'port', 'runAsUser', 'runAsGroup', 'fsGroup', 'defaultMode', 'mode',
  'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold',
  'terminationGracePeriodSeconds', 'readOnly', 'privileged', 'runAsNonRoot', 'readOnlyRootFilesystem',
  'allowPrivilegeEscalation', 'stdin', 'stdinOnce', 'tty', 'optional', 'medium',
]);

function substitute(value: unknown, lookup: (ref: string) => ParameterValue, mode: Mode, typed = false): unknown {
  if (typeof value === 'string') return substituteString(value, lookup, mode === 'expanded', typed);
  if (Array.isArray(value)) return value.map((item) => substitute(item, lookup, mode));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = substitute(item, lookup, childMode(mode, key), TYPED_FIELDS.has(key));
    return out;
  }
  return value;
}

/** command and args are expanded by Kubernetes; so is `value` of an item of an `env` list. */
export function childMode(mode: Mode, key: string): Mode {
  if (mode === 'expanded') return 'expanded';
  if (mode === 'env-list') return key === 'value' ? 'expanded' : 'plain';
  if (key === 'command' || key === 'args') return 'expanded';
  return key === 'env' ? 'env-list' : 'plain';
}

function substituteString(text: string, lookup: (ref: string) => ParameterValue, expanded: boolean, typed: boolean): unknown {
  if (!text.includes('$(')) return text;
  const whole = typed ? WHOLE_PLACEHOLDER.exec(text) : null;
  if (whole !== null) {
    const typed = lookup(whole[1] as string);
    return typeof typed === 'string' ? escape(typed, expanded) : typed;
  }
  return text.replace(PLACEHOLDER, (_match, ref: string) => escape(String(lookup(ref)), expanded));
}

function escape(text: string, expanded: boolean): string {
  return expanded ? text.replaceAll('$', '$$$$') : text;
}
