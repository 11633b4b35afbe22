// Two facts about a pod that decide where injected containers go: whether the pod runs to
// completion, and whether the API server gives native sidecars (init containers with
// restartPolicy: Always, on by default from Kubernetes 1.29: Kubernetes docs, "Sidecar
// Containers"). A container that never exits keeps a run-to-completion pod running forever,
// unless it is a native sidecar, which the kubelet stops once the app's containers are done.
import type { InjectOptions, PodLike } from './types.js';

/** Kubernetes' first minor version with native sidecars on by default (beta, SidecarContainers gate). */
export const NATIVE_SIDECARS_SINCE = { major: 1, minor: 29 } as const;

/**
 * A pod that is meant to finish: restartPolicy Never or OnFailure (every Job's and CronJob's
 * pod has one of these; the API server refuses Always there), or a template the caller knows
 * to be a Job's.
 */
export function runsToCompletion(pod: PodLike, options: InjectOptions): boolean {
  const policy = pod.spec?.restartPolicy;
  return policy === 'Never' || policy === 'OnFailure' || options.runsToCompletion === true;
}

export interface NativeSidecarSupport {
  native: boolean;
  /** Why, in words a pod author can act on: names the setting or the server version. */
  why: string;
}

/** Whether injected long-running containers can be init containers with restartPolicy: Always. */
export function nativeSidecarSupport(options: InjectOptions): NativeSidecarSupport {
  if (options.nativeSidecars === 'always') return { native: true, why: 'native sidecars are forced on (--native-sidecars=always)' };
  if (options.nativeSidecars === 'never') return { native: false, why: 'native sidecars are turned off (--native-sidecars=never)' };
  const version = options.serverVersion;
  if (version === undefined)
    return {
      native: false,
      why: 'the API server version is unknown, so native sidecars are not assumed (set --native-sidecars=always if it is Kubernetes 1.29 or later)',
    };
  const label = `${version.major}.${version.minor}`;
  const supported =
    version.major > NATIVE_SIDECARS_SINCE.major ||
    (version.major === NATIVE_SIDECARS_SINCE.major && version.minor >= NATIVE_SIDECARS_SINCE.minor);
  return supported
    ? { native: true, why: `the API server is Kubernetes ${label}, which has native sidecars` }
    : { native: false, why: `the API server is Kubernetes ${label}; native sidecars need 1.29 or later` };
}

/** Native sidecars (init containers with restartPolicy Always) are on by default from Kubernetes 1.29. */
export function useNativeSidecars(options: InjectOptions): boolean {
  return nativeSidecarSupport(options).native;
}
