// Name rules shared by the catalog (at load) and the engine (at admission).
// Source for the Kubernetes limits: "Object Names and IDs" and "Annotations" in the
// Kubernetes documentation (DNS-1123 labels are at most 63 characters, subdomains 253,
// an annotation key's name part 63 with an optional DNS-subdomain prefix).

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Template parameter names: lower-case words joined by dashes, so they never contain a dot. */
export const PARAMETER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const FILE_NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;
const ANNOTATION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const MAX_LABEL = 63;

export function isDnsLabel(value: string): boolean {
  return value.length <= MAX_LABEL && DNS1123_LABEL.test(value);
}

export function isAnnotationKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? '' : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== '' && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && ANNOTATION_NAME.test(name);
}
