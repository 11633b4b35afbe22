// What a template's containers listen on: the ports they declare or are probed on, and the
// listeners on loopback only that their files and command lines set up. Read from the template
// as written, when it is compiled, so an injection never re-reads configuration text.
import type { V1Container, V1Probe } from '#kube';
import type { TemplateSpec } from '../model/template.js';
import { PARAMETER_PLACEHOLDER_SOURCE } from './placeholders.js';

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

export function probePort(probe: V1Probe | undefined): number | string | undefined {
  return probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
}

export const LOOPBACK = '(?:127(?:\\.\\d{1,3}){3}|localhost|\\[::1\\])';
const PORT = `(\\d{1,5}|${PARAMETER_PLACEHOLDER_SOURCE})`;

/**
 * How the programs the templates run say "listen on loopback only": nginx and twemproxy
 * (`listen 127.0.0.1:PORT`, `listen: 127.0.0.1:PORT`), flags such as
 * `--web.listen-address=127.0.0.1:PORT`, and socat (`TCP-LISTEN:PORT,…,bind=127.0.0.1`).
 */
const LISTENER_FORMS: RegExp[] = [
  new RegExp(`\\blisten\\b\\s*:?\\s+${LOOPBACK}:${PORT}`, 'g'),
  new RegExp(`--[\\w.-]*(?:listen|bind)[\\w.-]*[=\\s]${LOOPBACK}:${PORT}`, 'g'),
  new RegExp(`TCP[46]?-LISTEN:${PORT}[^\\s]*,bind=${LOOPBACK}(?![\\w.])`, 'g'),
];

/** A listener on loopback only, as written: its port is a number or `$(params.NAME)`. */
export interface WrittenListener {
  port: string;
  where: string;
}

/** Every loopback-only listener that the template's files and command lines declare. */
export function loopbackListeners(spec: Pick<TemplateSpec, 'files' | 'containers' | 'initContainers'>): WrittenListener[] {
  const found: WrittenListener[] = [];
  for (const file in spec.files) scan(spec.files[file] as string, found, `spec.files.${file}`);
  for (const list of ['containers', 'initContainers'] as const) {
    spec[list].forEach((c, i) => scan([...(c.command ?? []), ...(c.args ?? [])].join(' '), found, `spec.${list}[${i}] (${c.name})`));
  }
  return found;
}

function scan(text: string, found: WrittenListener[], where: string): void {
  for (const form of LISTENER_FORMS) for (const match of text.matchAll(form)) found.push({ port: match[1] as string, where });
}
