// What webhook-less mode cannot do the webhook's way, found before anything is printed: each
// reason names the template and the field, so an operator knows what to change or to leave to
// the webhook.
import type { Template } from '../model/template.js';
import { hasPlaceholder, unsafeFieldNames } from './values.js';

/**
 * JavaScript regular expression features RE2 (the API server's CEL `matches`) lacks:
 * lookaround and backreferences (RE2 syntax, github.com/google/re2/wiki/Syntax).
 */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]|\\k</;

export function refusals(template: Template): string[] {
  const out: string[] = [];
  const spec = template.spec;
  for (const [name, parameter] of Object.entries(spec.parameters)) {
    if (parameter.type === 'number') {
      out.push(
        `${template.name}: parameters.${name}: number parameters are not compiled: CEL prints and compares doubles differently from the webhook, so pods could differ`,
      );
    }
    if (parameter.pattern !== undefined && NOT_RE2.test(parameter.pattern)) {
      out.push(
        `${template.name}: parameters.${name}.pattern uses lookaround or a backreference, which the API server's regular expressions (RE2) do not have`,
      );
    }
  }
  if (template.spec.sizing !== undefined) {
    out.push(
      `${template.name}: sizing: per-pod cpu and memory are not compiled: a limit kept in the template's ratio is quantity arithmetic the policies do not do; leave this template to the webhook`,
    );
  }
  out.push(...nameRefusals(template), ...privilegeRefusals(template));
  return out;
}

/** Names set by parameters: the policies check clashes and record the status by fixed names. */
function nameRefusals(template: Template): string[] {
  const out: string[] = [];
  const spec = template.spec;
  const named = [
    ...spec.containers.map((c) => ['containers', c.name] as const),
    ...spec.initContainers.map((c) => ['initContainers', c.name] as const),
    ...spec.volumes.map((v) => ['volumes', v.name] as const),
  ];
  for (const [field, name] of named) {
    if (hasPlaceholder(name)) {
      out.push(
        `${template.name}: ${field} '${name}': a name set by a parameter cannot be compiled: the policies check clashes and record the status by fixed names`,
      );
    }
  }
  for (const [i, mount] of (spec.app.volumeMounts ?? []).entries()) {
    if (hasPlaceholder(mount.name))
      out.push(`${template.name}: app.volumeMounts[${i}].name: a volume name set by a parameter cannot be compiled`);
  }
  for (const [i, env] of (spec.app.env ?? []).entries()) {
    if (hasPlaceholder(env.name)) out.push(`${template.name}: app.env[${i}].name: an env var name set by a parameter cannot be compiled`);
  }
  return out;
}

/** Capabilities set by parameters, and object keys that cannot be CEL field names. */
function privilegeRefusals(template: Template): string[] {
  const out: string[] = [];
  const spec = template.spec;
  for (const container of [...spec.initContainers, ...spec.containers]) {
    if ((container.securityContext?.capabilities?.add ?? []).some(hasPlaceholder)) {
      out.push(
        `${template.name}: containers '${container.name}': a capability set by a parameter cannot be compiled: the status records the privileges given by name`,
      );
    }
  }
  // Written as field names of typed CEL objects, which cannot be quoted: a key that is not an
  // identifier would change the expression (a key holding `command: [...], x` adds a command).
  const typed = {
    containers: spec.containers,
    initContainers: spec.initContainers,
    volumes: spec.volumes,
    'app.env': spec.app.env ?? [],
    'app.volumeMounts': spec.app.volumeMounts ?? [],
  };
  for (const [field, value] of Object.entries(typed)) {
    for (const where of unsafeFieldNames(value, field))
      out.push(
        `${template.name}: ${where} is not a CEL identifier, so it cannot be a field name in a policy; Kubernetes objects have no such field`,
      );
  }
  return out;
}
