// The e2e node agent's volumes, made as the kubelet makes them: a folder per volume under the
// pod's directory, filled from Secrets, ConfigMaps, the downward API and projected sources
// (with a real service-account token from the API server); emptyDirs stay empty.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CoreV1Api, V1Pod, V1Volume, V1VolumeProjection } from '#kube';

export async function materializeVolumes(core: CoreV1Api, pod: V1Pod, root: string): Promise<Map<string, string>> {
  const namespace = pod.metadata?.namespace as string;
  const folders = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? []) {
    const folder = join(root, volume.name);
    mkdirSync(folder, { recursive: true });
    folders.set(volume.name, folder);
    const files = await volumeFiles(core, pod, namespace, volume);
    for (const [path, { content, mode }] of files) {
      const file = join(folder, path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
      chmodSync(file, mode);
    }
    // emptyDir is world-writable, as the kubelet makes it; a folder of files is not.
    chmodSync(folder, volume.emptyDir !== undefined ? 0o777 : 0o755);
  }
  return folders;
}

type Files = Map<string, { content: Buffer; mode: number }>;
type DataItems = Array<{ key: string; path: string; mode?: number }> | undefined;
type FieldItems = Array<{ path: string; mode?: number; fieldRef?: { fieldPath: string } }> | undefined;

/** Where a volume's files come from: the API server, for the pod's namespace. */
interface VolumeSource {
  core: CoreV1Api;
  pod: V1Pod;
  namespace: string;
}

async function volumeFiles(core: CoreV1Api, pod: V1Pod, namespace: string, volume: V1Volume): Promise<Files> {
  const files: Files = new Map();
  const from: VolumeSource = { core, pod, namespace };
  if (volume.secret !== undefined) {
    putData(files, await secretData(from, volume.secret.secretName as string), volume.secret.items, volume.secret.defaultMode);
  } else if (volume.configMap !== undefined) {
    putData(files, await configMapData(from, volume.configMap.name as string), volume.configMap.items, volume.configMap.defaultMode);
  } else if (volume.downwardAPI !== undefined) {
    putFields(files, pod, volume.downwardAPI.items, volume.downwardAPI.defaultMode);
  } else if (volume.projected !== undefined) {
    for (const source of volume.projected.sources ?? []) await putProjection(files, from, source, volume.projected.defaultMode);
  } else if (volume.emptyDir === undefined) {
    throw new Error(
      `volume ${volume.name}: the e2e node agent provides Secret, ConfigMap, emptyDir, downwardAPI and projected volumes only`,
    );
  }
  return files;
}

/** One source of a projected volume: a service account token, a ConfigMap, a Secret or downward API fields. */
async function putProjection(files: Files, from: VolumeSource, source: V1VolumeProjection, defaultMode: number | undefined): Promise<void> {
  if (source.serviceAccountToken !== undefined) {
    const { audience, expirationSeconds, path } = source.serviceAccountToken;
    const token = await from.core.createNamespacedServiceAccountToken({
      name: from.pod.spec?.serviceAccountName ?? 'default',
      namespace: from.namespace,
      body: {
        spec: {
          audiences: audience === undefined ? [] : [audience],
          expirationSeconds: expirationSeconds ?? 3607,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: from.pod.metadata?.name, uid: from.pod.metadata?.uid },
        },
      },
    });
    putFile(files, path, token.status?.token ?? '', defaultMode);
  } else if (source.configMap !== undefined) {
    putData(files, await configMapData(from, source.configMap.name as string), source.configMap.items, defaultMode);
  } else if (source.secret !== undefined) {
    putData(files, await secretData(from, source.secret.name as string), source.secret.items, defaultMode);
  } else if (source.downwardAPI !== undefined) {
    putFields(files, from.pod, source.downwardAPI.items, defaultMode);
  }
}

async function secretData({ core, namespace }: VolumeSource, name: string): Promise<Record<string, Buffer>> {
  const secret = await core.readNamespacedSecret({ name, namespace });
  return mapValues(secret.data ?? {}, (v) => Buffer.from(v, 'base64'));
}

async function configMapData({ core, namespace }: VolumeSource, name: string): Promise<Record<string, Buffer>> {
  const map = await core.readNamespacedConfigMap({ name, namespace });
  return mapValues(map.data ?? {}, (v) => Buffer.from(v));
}

function putFile(files: Files, path: string, content: Buffer | string, mode: number | undefined): void {
  files.set(path, { content: Buffer.from(content), mode: mode ?? 0o644 });
}

/** Every key of `data`, or only the listed items, each at its path. */
function putData(files: Files, data: Record<string, Buffer>, items: DataItems, defaultMode: number | undefined): void {
  if (items === undefined) for (const [key, value] of Object.entries(data)) putFile(files, key, value, defaultMode);
  else
    for (const item of items)
      if (data[item.key] !== undefined) putFile(files, item.path, data[item.key] as Buffer, item.mode ?? defaultMode);
}

function putFields(files: Files, pod: V1Pod, items: FieldItems, defaultMode: number | undefined): void {
  for (const item of items ?? []) putFile(files, item.path, fieldValue(pod, item.fieldRef?.fieldPath ?? '', ''), item.mode ?? defaultMode);
}

function mapValues<T>(data: Record<string, string>, convert: (value: string) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, convert(v)]));
}

/** The fieldRef paths answered from the pod by name. */
const POD_FIELDS: Record<string, (pod: V1Pod, podIp: string) => string> = {
  'metadata.name': (pod) => pod.metadata?.name ?? '',
  'metadata.namespace': (pod) => pod.metadata?.namespace ?? '',
  'metadata.uid': (pod) => pod.metadata?.uid ?? '',
  'spec.nodeName': (pod) => pod.spec?.nodeName ?? '',
  'spec.serviceAccountName': (pod) => pod.spec?.serviceAccountName ?? '',
  'status.podIP': (_pod, podIp) => podIp,
  'status.hostIP': () => '',
};

/** A fieldRef's value: metadata.name/namespace/uid, labels and annotations, spec and status fields. */
export function fieldValue(pod: V1Pod, path: string, podIp: string): string {
  const annotation = /^metadata\.(annotations|labels)\['(.+)'\]$/.exec(path);
  if (annotation !== null) return (pod.metadata?.[annotation[1] as 'labels' | 'annotations'] ?? {})[annotation[2] as string] ?? '';
  const whole = /^metadata\.(annotations|labels)$/.exec(path);
  if (whole !== null) {
    const map = pod.metadata?.[whole[1] as 'labels' | 'annotations'] ?? {};
    return Object.keys(map)
      .sort()
      .map((k) => `${k}=${JSON.stringify(map[k])}`)
      .join('\n');
  }
  const field = Object.hasOwn(POD_FIELDS, path) ? POD_FIELDS[path] : undefined;
  if (field === undefined) throw new Error(`fieldRef ${path} is not supported by the e2e node agent`);
  return field(pod, podIp);
}
