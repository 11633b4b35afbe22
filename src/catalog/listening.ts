// What a template's container listens on, and which of the template's own parameters moves a
// port: read from the template, so a hint never names a parameter the template lacks.
import type { V1Container, V1ContainerPort, V1Probe } from '@kubernetes/client-node';
import { WHOLE_PLACEHOLDER } from './placeholders.js';
import type { TemplateSpec } from '../model/template.js';

/**
 * The ports a container declares or is probed on (an httpGet, tcpSocket or grpc probe means
 * something listens there), as "8443/TCP" or "probe port 8080".
 */
export function listeningPorts(container: V1Container): string[] {
  const ports = (container.ports ?? []).map((p) => `port ${p.containerPort}/${p.protocol ?? 'TCP'}`);
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
    const port = probePort(probe);
    if (port !== undefined && !ports.some((p) => p.startsWith(`port ${port}/`))) ports.push(`probe port ${port}`);
  }
  return ports;
}

function probePort(probe: V1Probe | undefined): number | string | undefined {
  return probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
}

/**
 * The parameter whose value is the container port, in the template as written: the port
 * entry of the same container whose containerPort is exactly `$(params.NAME)` and whose
 * name or protocol matches. Undefined when the port is fixed.
 */
export function portParameter(spec: TemplateSpec, containerName: string, port: V1ContainerPort): string | undefined {
  const all = [...spec.containers, ...spec.initContainers];
  // A container whose name is itself a placeholder is found by its ports alone.
  const named = all.filter((c) => c.name === containerName);
  for (const declared of (named.length > 0 ? named : all).flatMap((c) => c.ports ?? [])) {
    if (declared.name !== port.name || (declared.protocol ?? 'TCP') !== (port.protocol ?? 'TCP')) continue;
    const match = typeof declared.containerPort === 'string' ? WHOLE_PLACEHOLDER.exec(declared.containerPort) : null;
    const ref = match?.[1];
    if (ref?.startsWith('params.') === true) return ref.slice('params.'.length);
  }
  return undefined;
}
