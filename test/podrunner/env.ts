// A container's environment and command line as the kubelet builds them: env values may refer
// to earlier variables as $(NAME) (with $$ for a literal $), valueFrom reads the pod's fields,
// Secrets and ConfigMaps, and command/args expand $(NAME) from the finished environment.
import type { V1Container, V1Pod } from '#kube';
import type { Objects } from './volumes.js';

const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function containerEnv(
  pod: V1Pod,
  container: V1Container,
  podIp: string,
  objects: { secrets?: Objects; configMaps?: Objects },
): Record<string, string> {
  const env: Record<string, string> = { PATH: IMAGE_PATH, HOSTNAME: pod.metadata?.name ?? 'pod' };
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (from === undefined) {
      env[variable.name] = expand(variable.value ?? '', env);
    } else if (from.fieldRef !== undefined) {
      env[variable.name] = fieldValue(pod, from.fieldRef.fieldPath, podIp);
    } else if (from.secretKeyRef !== undefined) {
      env[variable.name] = keyValue(objects.secrets, 'Secret', from.secretKeyRef.name ?? '', from.secretKeyRef.key);
    } else if (from.configMapKeyRef !== undefined) {
      env[variable.name] = keyValue(objects.configMaps, 'ConfigMap', from.configMapKeyRef.name ?? '', from.configMapKeyRef.key);
    } else {
      throw new Error(`env ${variable.name}: this valueFrom is not supported by the pod runner`);
    }
  }
  return env;
}

function fieldValue(pod: V1Pod, path: string, podIp: string): string {
  switch (path) {
    case 'metadata.name':
      return pod.metadata?.name ?? '';
    case 'metadata.namespace':
      return pod.metadata?.namespace ?? 'default';
    case 'status.podIP':
      return podIp;
    default:
      throw new Error(`fieldRef ${path} is not supported by the pod runner`);
  }
}

function keyValue(objects: Objects | undefined, kind: string, name: string, key: string): string {
  const value = objects?.[name]?.[key];
  if (value === undefined) throw new Error(`${kind} ${name} has no key ${key}: the kubelet would not start the container`);
  return value;
}

/** Kubernetes' $(VAR) expansion: unknown references stay as written, $$ is a literal $. */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? match;
  });
}
