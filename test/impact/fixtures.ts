// Shared by the impact tests: an https-proxy-like cluster template, its versions, the pods a
// Deployment's ReplicaSet made from it (as a metadata watch sees them: labels, annotations,
// ownerReferences), and an index holding them.
import { LiveCatalog, templateOfObject } from '../../src/catalog/live.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import type { Template } from '../../src/model/template.js';
import { inject } from '../../src/engine/index.js';
import { INJECTED_LABEL } from '../../src/model/keys.js';
import type { ImpactDeps } from '../../src/impact/review.js';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import { OwnerResolver } from '../../src/impact/owners.js';
import type { V1ObjectMeta } from '#kube';

export function proxyObject(
  maximum = 65535,
  extra: { description?: string; image?: string; annotations?: Record<string, string>; uid?: string } = {},
) {
  return {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: {
      name: 'edge-proxy',
      uid: extra.uid ?? 'tpl-uid-1',
      ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
    },
    spec: {
      pattern: 'sidecar',
      description: extra.description ?? 'Terminates TLS in front of the app.',
      parameters: { 'upstream-port': { type: 'integer', default: 8080, minimum: 1, maximum } },
      containers: [
        {
          name: 'edge-proxy',
          image: extra.image ?? 'registry.example/proxy:1',
          args: ['--upstream=127.0.0.1:$(params.upstream-port)'],
          ports: [{ containerPort: 8443 }],
        },
      ],
    },
  };
}

/** The live catalog with `object` as the cluster's template. */
export function liveWith(object: unknown): LiveCatalog {
  const live = new LiveCatalog({ base: [] });
  live.upsert(object);
  live.flush();
  return live;
}

/**
 * The metadata of a pod injected from the live catalog's edge-proxy, asked for by a Deployment's
 * pod template with `port`: the engine's own output, as the API server stores it.
 */
export function injectedPod(
  live: LiveCatalog,
  name: string,
  options: { namespace?: string; port?: string; replicaSet?: string } = {},
): V1ObjectMeta {
  const namespace = options.namespace ?? 'shop';
  const annotations: Record<string, string> = { 'podpattern.dev/sidecar': 'edge-proxy' };
  if (options.port !== undefined) annotations['edge-proxy.podpattern.dev/upstream-port'] = options.port;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, annotations },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
  const result = inject(pod, live.current(), { nativeSidecars: 'never', namespace });
  if (result.outcome !== 'injected') throw new Error(`the fixture pod was not injected: ${JSON.stringify(result)}`);
  const metadata = result.pod.metadata!;
  if (metadata.labels?.[INJECTED_LABEL] !== 'true') throw new Error('the engine did not label the injected pod');
  return {
    ...metadata,
    uid: `uid-${name}`,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: options.replicaSet ?? 'web-7d9f', uid: 'rs', controller: true }],
  };
}

/** ReplicaSets of shop resolve to their Deployments by the name before the hash. */
export function deploymentResolver(): OwnerResolver {
  return new OwnerResolver({ lookup: async (_namespace, owner) => ({ kind: 'Deployment', name: owner.name.replace(/-[^-]+$/, '') }) });
}

export function impactDeps(live: LiveCatalog, index: InjectedPodIndex, forced: unknown[] = []): ImpactDeps {
  return {
    index,
    preview: (name, template) => live.preview(name, template),
    inject,
    options: (namespace) => ({ nativeSidecars: 'never', namespace }),
    recordForced: (change) => forced.push(change),
  };
}

/** The edge-proxy template with `rollout` (by default a canary of the namespaces labelled stage=canary), running `image`. */
export function canaryObject(
  image: string,
  rollout: unknown = { canary: { namespaceSelector: { matchLabels: { stage: 'canary' } } } },
  annotations?: Record<string, string>,
) {
  const object = proxyObject(65535, { image, ...(annotations === undefined ? {} : { annotations }) });
  return { ...object, spec: { ...object.spec, rollout } };
}

/** A PatternTemplate object as the catalog accepts it (a cluster template); throws when it is invalid. */
export function clusterTemplate(object: unknown): Template {
  const verdict = validateTemplate(templateOfObject(object), 'cluster', 'edge-proxy');
  if (!verdict.ok) throw new Error(verdict.problems.join('; '));
  return verdict.template;
}
