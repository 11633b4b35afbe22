// The Kubernetes API server's version: the engine reads it (native sidecars need 1.29 or
// later), the cluster client asks for it, the CLI takes it as a flag.

export interface ServerVersion {
  major: number;
  minor: number;
}
