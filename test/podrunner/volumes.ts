// The pod's volumes laid out on the host as the kubelet lays them out before any container
// starts: an emptyDir is an empty directory with mode 0777; a Secret or ConfigMap volume holds
// one file per key (or per listed item); a downwardAPI volume holds the fields it names, rendered
// from the pod's own metadata. A Secret, ConfigMap or annotation that is missing stops the pod
// from starting, as it stops the kubelet.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1Volume } from '#kube';

/** Secret and ConfigMap contents by object name, each key to its text. */
export type Objects = Record<string, Record<string, string>>;

export interface VolumeSources {
  secrets?: Objects;
  configMaps?: Objects;
}

/** Creates every volume of `pod` under `root`; returns each volume's host directory by name. */
export function layOutVolumes(pod: V1Pod, root: string, sources: VolumeSources): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? []) {
    const dir = join(root, volume.name);
    mkdirSync(dir, { recursive: true });
    fillVolume(pod, volume, dir, sources);
    dirs.set(volume.name, dir);
  }
  return dirs;
}

function fillVolume(pod: V1Pod, volume: V1Volume, dir: string, sources: VolumeSources): void {
  if (volume.emptyDir !== undefined) {
    // With an fsGroup the kubelet gives the volume to that group, setgid, so files made in it
    // belong to the group too.
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    if (fsGroup !== undefined) chownSync(dir, 0, fsGroup);
    chmodSync(dir, fsGroup === undefined ? 0o777 : 0o2777);
  } else if (volume.secret !== undefined) {
    const name = volume.secret.secretName ?? '';
    writeKeys(dir, lookUp(sources.secrets, 'Secret', name, volume.secret.optional), volume.secret.items, volume.secret.defaultMode);
  } else if (volume.configMap !== undefined) {
    const name = volume.configMap.name ?? '';
    writeKeys(
      dir,
      lookUp(sources.configMaps, 'ConfigMap', name, volume.configMap.optional),
      volume.configMap.items,
      volume.configMap.defaultMode,
    );
  } else if (volume.downwardAPI !== undefined) {
    for (const item of volume.downwardAPI.items ?? [])
      writeFile(join(dir, item.path), renderField(pod, item), item.mode ?? volume.downwardAPI.defaultMode);
  } else {
    throw new Error(`volume ${volume.name}: the pod runner supports emptyDir, secret, configMap and downwardAPI volumes only`);
  }
}

function lookUp(objects: Objects | undefined, kind: string, name: string, optional: boolean | undefined): Record<string, string> {
  const found = objects?.[name];
  if (found !== undefined) return found;
  if (optional === true) return {};
  throw new Error(`${kind} "${name}" not found: the kubelet would keep the pod in ContainerCreating`);
}

function writeKeys(dir: string, data: Record<string, string>, items: V1KeyToPath[] | undefined, mode: number | undefined): void {
  const chosen: V1KeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of chosen) {
    const text = data[item.key];
    if (text === undefined) throw new Error(`key ${item.key} is not in the object the volume names`);
    writeFile(join(dir, item.path), text, item.mode ?? mode);
  }
}

function writeFile(path: string, text: string, mode: number | undefined): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode ?? 0o644);
}

/**
 * One downwardAPI file. A single annotation or label is written as its bare value; the whole
 * map is written one `key="value"` line per entry, sorted, values quoted as Go's strconv.Quote
 * does (what the kubelet's fieldpath formatting produces).
 */
export function renderField(pod: V1Pod, item: V1DownwardAPIVolumeFile): string {
  const path = item.fieldRef?.fieldPath;
  if (path === undefined) throw new Error(`downwardAPI item ${item.path}: only fieldRef items are supported`);
  const meta = pod.metadata ?? {};
  const one = /^metadata\.(annotations|labels)\['(.+)'\]$/.exec(path);
  if (one !== null) {
    const map = (one[1] === 'annotations' ? meta.annotations : meta.labels) ?? {};
    return map[one[2]!] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? 'default';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.annotations':
      return formatMap(meta.annotations ?? {});
    case 'metadata.labels':
      return formatMap(meta.labels ?? {});
    default:
      throw new Error(`downwardAPI item ${item.path}: field ${path} is not supported by the pod runner`);
  }
}

function formatMap(map: Record<string, string>): string {
  return Object.keys(map)
    .sort()
    .map((key) => `${key}=${JSON.stringify(map[key])}`)
    .join('\n');
}
