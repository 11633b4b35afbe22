// The critical fields of an injected container, as podpattern.dev/status records them for the
// integrity guard (the ValidatingAdmissionPolicy that runs after every mutating admission step):
// its image, its ports and the securityContext fields that decide its privileges. Each is one
// string, `<container>=<value>`, that the guard's CEL builds the same way from the container the
// API server is about to store (webhook-config/validatingadmissionpolicy.yaml,
// `podpattern-injected-integrity`), so a later webhook that changed one is named by field.
//
// CEL has no JSON parser: the guard reads the status with split, so a recorded value holds no
// quote, backslash, comma or closing bracket. Image references and the values below never do;
// a value that would is not recorded, and that field of that container is not guarded.
import type { V1Container, V1SecurityContext } from '#kube';

/** The fields the guard compares, by the status list that records them. */
export interface Critical {
  images: string[];
  ports: string[];
  securityContexts: string[];
}

/**
 * A quote, backslash, comma, closing bracket or control character: what the guard could not read
 * back. The same class as the guard's own CEL (policy/integrity.ts).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's job
const UNREADABLE = /["\\,\]\u0000-\u001f]/;

/** Whether the guard could not read `value` back. */
function unsafe(value: string): boolean {
  return UNREADABLE.test(value);
}

/** Adds `container`'s critical fields to `record`, each where it can be read back by the guard. */
export function recordCritical(record: Critical, container: V1Container): void {
  const entry = (list: string[], value: string): void => {
    if (!unsafe(value)) list.push(`${container.name}=${value}`);
  };
  entry(record.images, container.image ?? '');
  entry(record.ports, portsText(container));
  entry(record.securityContexts, securityText(container.securityContext));
}

/** `9443/TCP+9090/UDP:9090`: each port, its protocol (the API server's default TCP) and its hostPort, if any. */
export function portsText(container: V1Container): string {
  return (container.ports ?? [])
    .map(
      (p) =>
        `${String(p.containerPort)}/${p.protocol ?? 'TCP'}${p.hostPort !== undefined && p.hostPort !== 0 ? `:${String(p.hostPort)}` : ''}`,
    )
    .join('+');
}

/**
 * The boolean and scalar securityContext fields the guard compares, in its order; the policy
 * compiler (src/policy/integrity.ts) writes them in CEL from this list, so both texts agree.
 */
export const SECURITY_SCALARS = [
  'privileged',
  'allowPrivilegeEscalation',
  'runAsNonRoot',
  'runAsUser',
  'runAsGroup',
  'readOnlyRootFilesystem',
  'procMount',
] as const;

/**
 * `allowPrivilegeEscalation:false;runAsNonRoot:true;drop:ALL;seccomp:RuntimeDefault;`: each
 * field that is set, in a fixed order. An empty capability list counts as absent (the API
 * server stores it so).
 */
export function securityText(context: V1SecurityContext | undefined): string {
  if (context === undefined) return '';
  let text = '';
  for (const field of SECURITY_SCALARS)
    if (context[field] !== undefined && context[field] !== null) text += `${field}:${String(context[field])};`;
  const add = context.capabilities?.add ?? [];
  const drop = context.capabilities?.drop ?? [];
  if (add.length > 0) text += `add:${add.join('+')};`;
  if (drop.length > 0) text += `drop:${drop.join('+')};`;
  if (context.seccompProfile?.type !== undefined) text += `seccomp:${context.seccompProfile.type};`;
  if (context.appArmorProfile?.type !== undefined) text += `appArmor:${context.appArmorProfile.type};`;
  return text;
}
