// Structural substitution: placeholders are replaced inside string values of the
// already-parsed template, never by pasting text into YAML or JSON, so no value can add a
// field, close a string or start a new object. One pass: substituted text is not re-scanned.
import { PLACEHOLDER, WHOLE_PLACEHOLDER } from '../catalog/placeholders.js';
import type { ParameterValue, TemplateSpec } from '../model/template.js';
import type { Values } from './params.js';
import { applySizing } from './sizing.js';

export interface PodFacts {
  name: string;
  namespace: string;
}

export type Rendered = Pick<TemplateSpec, 'containers' | 'initContainers' | 'volumes' | 'files' | 'app' | 'podAnnotations'>;

export function renderTemplate(spec: TemplateSpec, values: Values, pod: PodFacts): Rendered {
  const lookup = (ref: Ref): ParameterValue => {
    if (ref === POD_NAME) return pod.name;
    if (ref === POD_NAMESPACE) return pod.namespace;
    // The catalog refused templates naming undeclared parameters, and optional parameters
    // without a default render as an empty string.
    return values.get(ref) ?? '';
  };
  const rendered = compiled(spec)(lookup) as Rendered;
  applySizing(rendered, spec, values);
  return rendered;
}

/**
 * A template compiled for rendering: where its placeholders are is worked out once per
 * template (the first time it is rendered; a catalog's templates are never edited, a changed
 * template is a new object), so a render only builds the copy, filling the placeholders in. Every render builds new objects and lists throughout: what it returns goes
 * into a pod, which later steps edit, so nothing in it may be shared with the template or
 * with another pod.
 */
const COMPILED = new WeakMap<TemplateSpec, Build>();

function compiled(spec: TemplateSpec): Build {
  let build = COMPILED.get(spec);
  if (build === undefined) {
    const { containers, initContainers, volumes, files, app, podAnnotations } = spec;
    build = compile({ containers, initContainers, volumes, files, app, podAnnotations }, 'plain', false);
    COMPILED.set(spec, build);
  }
  return build;
}

/** A parameter's name, or one of the two pod facts (symbols, so no parameter name can pass for one). */
type Ref = string | typeof POD_NAME | typeof POD_NAMESPACE;
const POD_NAME = Symbol('pod.name');
const POD_NAMESPACE = Symbol('pod.namespace');
type Lookup = (ref: Ref) => ParameterValue;
type Build = (lookup: Lookup) => unknown;

function refOf(match: string): Ref {
  if (match === 'pod.name') return POD_NAME;
  if (match === 'pod.namespace') return POD_NAMESPACE;
  return match.slice('params.'.length);
}

/** The builder of one value of the template: the same value, with fresh objects and placeholders filled in. */
function compile(value: unknown, mode: Mode, typed: boolean): Build {
  if (typeof value === 'string') return compileString(value, mode === 'expanded', typed);
  if (Array.isArray(value)) {
    const items = value.map((item) => compile(item, mode, false));
    return (lookup) => items.map((build) => build(lookup));
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    const builds = keys.map((key) => compile((value as Record<string, unknown>)[key], childMode(mode, key), TYPED_FIELDS.has(key)));
    return (lookup) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i += 1) out[keys[i] as string] = (builds[i] as Build)(lookup);
      return out;
    };
  }
  return () => value;
}

/**
 * A string split once into its text and its placeholders. One pass: substituted text is not
 * re-scanned. In a typed field a string that is exactly one placeholder takes the value's type.
 */
function compileString(text: string, expanded: boolean, typed: boolean): Build {
  if (!text.includes('$(')) return () => text;
  const whole = typed ? WHOLE_PLACEHOLDER.exec(text) : null;
  if (whole !== null) {
    const ref = refOf(whole[1] as string);
    return (lookup) => {
      const value = lookup(ref);
      return typeof value === 'string' ? escape(value, expanded) : value;
    };
  }
  const texts: string[] = [];
  const refs: Ref[] = [];
  let from = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    texts.push(text.slice(from, match.index));
    refs.push(refOf(match[1] as string));
    from = match.index + match[0].length;
  }
  if (refs.length === 0) return () => text;
  const tail = text.slice(from);
  return (lookup) => {
    let out = '';
    for (let i = 0; i < refs.length; i += 1) out += (texts[i] as string) + escape(String(lookup(refs[i] as Ref)), expanded);
    return out + tail;
  };
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

/** command and args are expanded by Kubernetes; so is `value` of an item of an `env` list. */
export function childMode(mode: Mode, key: string): Mode {
  if (mode === 'expanded') return 'expanded';
  if (mode === 'env-list') return key === 'value' ? 'expanded' : 'plain';
  if (key === 'command' || key === 'args') return 'expanded';
  return key === 'env' ? 'env-list' : 'plain';
}

function escape(text: string, expanded: boolean): string {
  return expanded && text.includes('$') ? text.replaceAll('$', '$$$$') : text;
}
