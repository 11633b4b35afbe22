// The Kubernetes API server's version: the engine reads it (native sidecars need 1.29 or
// later), the cluster client asks for it, the CLI takes it as a flag.

export interface ServerVersion {
  major: number;
  minor: number;
}

/**
 * The oldest Kubernetes the chart installs on (helm/podpattern/Chart.yaml kubeVersion; a test
 * keeps the two in step). Where the server's version cannot be read because there is no
 * cluster (`podpattern inject`, `explain`, `serve` without credentials), this is the version
 * assumed, so they all give the pod the webhook gives on the oldest supported cluster.
 */
export const OLDEST_SUPPORTED: ServerVersion = Object.freeze({ major: 1, minor: 30 });

export function formatVersion(version: ServerVersion): string {
  return `${version.major}.${version.minor}`;
}
