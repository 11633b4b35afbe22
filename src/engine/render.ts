// Structural substitution: placeholders are replaced inside string values of the template's
// compiled form (src/template/compile.ts), never by pasting text into YAML or JSON, so no value
// can add a field, close a string or start a new object. One pass: substituted text is not
// re-scanned.
import type { ParameterValue, Template, TemplateSpec } from '../model/template.js';
import { POD_NAME, POD_NAMESPACE, type Ref } from '../template/placeholders.js';
import type { Values } from './params.js';
import { applySizing } from './sizing.js';

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
  const rendered = compiled.fill(lookup) as Rendered;
  rendered.listeners =
    compiled.listeners.length === 0
      ? []
      : compiled.listeners.map(({ port, parameter, where }) => ({
          port: parameter === undefined ? port : lookup(parameter),
          parameter,
          where,
        }));
  applySizing(rendered, template.spec, values);
  return rendered;
}
