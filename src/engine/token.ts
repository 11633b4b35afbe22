// The service-account token mount the API server's ServiceAccount admission plugin gives every
// container, given to the containers podpattern adds before the plugin has to.
//
// The plugin (kubernetes plugin/pkg/admission/serviceaccount, admission.go) runs before the
// mutating webhooks: a pod reaches podpattern with a projected volume named `kube-api-access-<random>`
// and every container mounting it at /var/run/secrets/kubernetes.io/serviceaccount. Once a
// webhook changes the pod, the API server runs the in-tree plugins again (admission
// reinvocation); the plugin then mounts the volume into every container that has no mount at
// that path, appending `{ name, readOnly: true, mountPath }`, and since that changed the pod
// after podpattern, podpattern's webhook (`reinvocationPolicy: IfNeeded`) is called a second
// time for nothing. Mounting it as the plugin would gives the same stored pod with one call.
import type { V1Container, V1PodSpec, V1VolumeMount } from '#kube';

/** The plugin's mount path (DefaultAPITokenMountPath) and volume name prefix (ServiceAccountVolumeName). */
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_VOLUME_PREFIX = 'kube-api-access-';

/**
 * The mount the plugin would add to a new container of this pod, or undefined when it would add
 * none. The plugin takes the first volume whose name has its prefix; it mounts only when the
 * pod's `automountServiceAccountToken`, else its ServiceAccount's, allows it. The ServiceAccount
 * is not in the review, so the pod's own containers are the evidence: the plugin has mounted the
 * volume into one of them at its path, or the pod asks for the token itself.
 */
export function tokenMountOf(spec: V1PodSpec, own: readonly V1Container[]): V1VolumeMount | undefined {
  if (spec.automountServiceAccountToken === false) return undefined;
  const volume = spec.volumes?.find((v) => v.name.startsWith(TOKEN_VOLUME_PREFIX));
  if (volume === undefined) return undefined;
  const mounted = own.some((c) => (c.volumeMounts ?? []).some((m) => m.name === volume.name && m.mountPath === TOKEN_MOUNT_PATH));
  if (!mounted && spec.automountServiceAccountToken !== true) return undefined;
  return { name: volume.name, readOnly: true, mountPath: TOKEN_MOUNT_PATH };
}

/**
 * Gives each container the token mount unless it already has a mount at the plugin's path (the
 * plugin leaves those alone, so a template that masks the token keeps its mask). The container
 * gets a new list: the render's list is not shared, but the copy costs nothing worth a doubt.
 */
export function mountToken(containers: readonly V1Container[], mount: V1VolumeMount): void {
  for (const container of containers) {
    const mounts = container.volumeMounts ?? [];
    if (mounts.some((m) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
    container.volumeMounts = [...mounts, { ...mount }];
  }
}
