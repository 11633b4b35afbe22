// Structural substitution: placeholders are replaced inside string values of the template's
// compiled form (src/template/compile.ts), never by pasting text into YAML or JSON, so no value
// can add a field, close a string or start a new object. One pass: substituted text is not
// re-scanned.
import type { CompiledValue, ParameterValue, Template, TemplateSpec } from '../model/template.js';
import { POD_NAME, POD_NAMESPACE, type Ref } from '../template/placeholders.js';
import type { Values } from './params.js';

export interface PodFacts {
  name: string;
  namespace: string;
}

/** A loopback-only listener of a rendered template, with its port filled in. */
export interface RenderedListener {
  port: ParameterValue;
  /** The parameter that sets the port, if one does. */
  parameter: string | undefined;
  where: string;
}

export type Rendered = Pick<TemplateSpec, 'containers' | 'initContainers' | 'volumes' | 'files' | 'app' | 'podAnnotations'> & {
  listeners: RenderedListener[];
};

/**
 * The template's objects for one pod. Every render builds new objects and lists throughout:
 * what it returns goes into a pod, which later steps edit, so nothing in it may be shared with
 * the template or with another pod.
 */
export function renderTemplate(template: Template, values: Values, pod: PodFacts): Rendered {
  const lookup = (ref: Ref): ParameterValue => {
    if (ref === POD_NAME) return pod.name;
    if (ref === POD_NAMESPACE) return pod.namespace;
    // The catalog refused templates naming undeclared parameters, and optional parameters
    // without a default render as an empty string.
    return values.get(ref) ?? '';
  };
  const { compiled } = template;
  const rendered = build(compiled.body, lookup) as Rendered;
  rendered.listeners = compiled.listeners.map(({ port, parameter, where }) => ({ port: parameter === undefined ? port : lookup(parameter), parameter, where }));
  return rendered;
}

function build(value: CompiledValue, lookup: (ref: Ref) => ParameterValue): unknown {
  switch (value.kind) {
    case 'fixed':
      return value.value;
    case 'typed': {
      const typed = lookup(value.ref);
      return typeof typed === 'string' ? escape(typed, value.expanded) : typed;
    }
    case 'text': {
      const { texts, refs, expanded } = value;
      let out = texts[0] as string;
      for (let i = 0; i < refs.length; i += 1) out += escape(String(lookup(refs[i] as Ref)), expanded) + (texts[i + 1] as string);
      return out;
    }
    case 'list':
      return value.items.map((item) => build(item, lookup));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < value.keys.length; i += 1) out[value.keys[i] as string] = build(value.values[i] as CompiledValue, lookup);
      return out;
    }
  }
}

// Kubernetes expands $(VAR) in command, args and env values, with $$ as the escape for a
// literal $ (Kubernetes docs, "Define dependent environment variables"): a value placed there
// must not reach another variable, so its $ are doubled.
function escape(text: string, expanded: boolean): string {
  return expanded && text.includes('$') ? text.replaceAll('$', '$$$$') : text;
}
