// The leader Lease through @kubernetes/client-node's CoordinationV1Api. Writes are replaces
// carrying the resourceVersion read, so the API server refuses one (409 Conflict) when another
// replica wrote in between. Lease times are MicroTime (RFC 3339 with microseconds), which
// client-node's V1MicroTime serialises.
import { CoordinationV1Api, ApiException, V1MicroTime, type KubeConfig, type V1Lease } from '#kube';
import type { LeaseRecord, LeaseStore } from './elector.js';

export function kubeLeaseStore(config: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = config.makeApiClient(CoordinationV1Api);
  return {
    async get() {
      try {
        return fromLease(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw error;
      }
    },
    async create(record) {
      return fromLease(await api.createNamespacedLease({ namespace, body: toLease(record, namespace, name) }));
    },
    async update(record) {
      return fromLease(await api.replaceNamespacedLease({ name, namespace, body: toLease(record, namespace, name) }));
    },
  };
}

function toLease(record: LeaseRecord, namespace: string, name: string): V1Lease {
  const micro = (date: Date | undefined) => (date === undefined ? undefined : new V1MicroTime(date.getTime()));
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(record.resourceVersion === undefined ? {} : { resourceVersion: record.resourceVersion }) },
    spec: {
      holderIdentity: record.holder,
      leaseDurationSeconds: record.leaseDurationSeconds,
      leaseTransitions: record.leaseTransitions,
      ...(record.acquireTime === undefined ? {} : { acquireTime: micro(record.acquireTime) }),
      ...(record.renewTime === undefined ? {} : { renewTime: micro(record.renewTime) }),
    },
  };
}

function fromLease(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  const date = (value: unknown) => (value === undefined || value === null ? undefined : new Date(value as string | Date));
  const acquireTime = date(spec.acquireTime);
  const renewTime = date(spec.renewTime);
  return {
    holder: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 15,
    leaseTransitions: spec.leaseTransitions ?? 0,
    ...(acquireTime === undefined ? {} : { acquireTime }),
    ...(renewTime === undefined ? {} : { renewTime }),
    ...(lease.metadata?.resourceVersion === undefined ? {} : { resourceVersion: lease.metadata.resourceVersion }),
  };
}
