// The pod a workload's controller creates from its pod template, as the webhook receives it:
// the template's metadata and spec, a generateName of `<workload>-` (the CLI's $(pod.name)
// for templates), the workload's namespace, and, for a StatefulSet, one persistentVolumeClaim
// volume per volumeClaimTemplate, placed first as the StatefulSet controller does
// (kubernetes/pkg/controller/statefulset, updateStorage). A Pod is sent as it is.
import type { V1Volume } from '#kube';
import type { PodLike } from '../../src/engine/index.js';
import type { PodTemplateSite } from '../../src/engine/pod-template.js';

export function podFromTemplate(manifest: unknown, template: PodLike, site: PodTemplateSite): PodLike {
  if (site.path.length === 0) return structuredClone(template);
  const owner = manifest as { metadata?: { name?: string; namespace?: string } };
  const copy = structuredClone(template);
  const claims: V1Volume[] = site.controllerVolumes.map((name) => ({
    name,
    persistentVolumeClaim: { claimName: `${name}-${owner.metadata?.name ?? 'pod'}-0` },
  }));
  const spec = { ...copy.spec, containers: copy.spec?.containers ?? [] };
  const volumes = [...claims, ...(spec.volumes ?? []).filter((v) => !site.controllerVolumes.includes(v.name))];
  if (volumes.length > 0) spec.volumes = volumes;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...copy.metadata,
      generateName: `${owner.metadata?.name ?? 'pod'}-`,
      ...(owner.metadata?.namespace === undefined ? {} : { namespace: owner.metadata.namespace }),
    },
    spec,
  };
}
