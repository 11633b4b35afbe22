// Probes that cannot succeed in a pod. The kubelet sends tcpSocket and httpGet probes from the
// node to the POD IP (or to the probe's `host`, resolved on the node), never to the pod's
// loopback. So a probe of a listener bound to 127.0.0.1 fails forever and the pod never becomes
// Ready, and a probe of a port that no container of the template declares probes nothing the
// template runs. Both are refused when the template is loaded, with the fix.
import type { V1Container, V1Probe } from '#kube';
import type { TemplateSpec } from '../model/template.js';
import { LOOPBACK, loopbackListeners, type WrittenListener } from '../template/listeners.js';

const PROBES = ['startupProbe', 'readinessProbe', 'livenessProbe'] as const;

export function probeProblems(spec: TemplateSpec): string[] {
  const listeners = loopbackListeners(spec);
  const containers = [
    ...spec.containers.map((c, i) => ({ c, at: `spec.containers[${i}]` })),
    ...spec.initContainers.map((c, i) => ({ c, at: `spec.initContainers[${i}]` })),
  ];
  const declared = new Set(containers.flatMap(({ c }) => (c.ports ?? []).map((p) => String(p.containerPort))));
  const problems: string[] = [];
  for (const { c, at } of containers) {
    for (const port of c.ports ?? []) {
      const local = listeners.find((l) => l.port === String(port.containerPort));
      if (local !== undefined)
        problems.push(
          `${at}.ports: containerPort ${port.containerPort} is a listener on loopback only (${local.where}); nothing outside the pod can reach it, so declare no containerPort for it`,
        );
    }
    for (const kind of PROBES) {
      const probe = c[kind];
      if (probe !== undefined) problems.push(...networkProbeProblems(`${at}.${kind}`, c, probe, listeners, declared));
    }
  }
  return problems;
}

function networkProbeProblems(at: string, c: V1Container, probe: V1Probe, listeners: WrittenListener[], declared: Set<string>): string[] {
  const handler = probe.tcpSocket !== undefined ? 'tcpSocket' : probe.httpGet !== undefined ? 'httpGet' : undefined;
  if (handler === undefined) return [];
  const { host, port } = (probe.tcpSocket ?? probe.httpGet)!;
  if (host !== undefined && new RegExp(`^${LOOPBACK}$`).test(host)) {
    return [
      `${at}.${handler}.host: '${host}' is the node's loopback, not the pod's: the kubelet probes from the node; drop host (the pod IP is the default) or use an exec probe`,
    ];
  }
  const named = typeof port === 'string' && !/^\d+$/.test(port) && !port.startsWith('$(');
  const number = named ? String((c.ports ?? []).find((p) => p.name === port)?.containerPort ?? '') : String(port);
  if (named && number === '') return [`${at}.${handler}.port: '${port}' is not the name of a port of container ${c.name}`];
  const local = listeners.find((l) => l.port === number);
  if (local !== undefined) {
    return [
      `${at}.${handler}: port ${number} listens on loopback only (${local.where}), but the kubelet sends ${handler} probes to the pod IP, so the container would never be ready; use an exec probe that runs inside the container`,
    ];
  }
  if (!declared.has(number)) {
    return [
      `${at}.${handler}.port: ${number} is not a containerPort of any container in this template, so no program of the template is known to listen there; declare the port (listening on all addresses) or probe one that is declared`,
    ];
  }
  return [];
}
