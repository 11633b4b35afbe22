// Writes an Event with @kubernetes/client-node: a core/v1 Event (what `kubectl get events`
// and `kubectl describe` read), named like client-go's recorder names them: the object's name
// and the time in hexadecimal nanoseconds, so names do not collide.
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '#kube';
import type { EventWrite, EventWriter } from './recorder.js';

export const REPORTING_COMPONENT = 'podpattern';

export function kubeEventWriter(config: KubeConfig, instance: string): EventWriter {
  const api = config.makeApiClient(CoreV1Api);
  return async (write) => {
    await api.createNamespacedEvent({ namespace: write.event.involved.namespace, body: eventBody(write, instance) });
  };
}

export function eventBody(write: EventWrite, instance: string): CoreV1Event {
  const { event, count, first, last } = write;
  const nanos = BigInt(last.getTime()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${event.involved.name.slice(0, 200)}.${nanos.toString(16)}`, namespace: event.involved.namespace },
    involvedObject: { ...event.involved },
    reason: event.reason,
    message: count > 1 ? `${count} reviews like this since ${first.toISOString()}, the last: ${event.message}` : event.message,
    type: event.type,
    count,
    firstTimestamp: first,
    lastTimestamp: last,
    source: { component: REPORTING_COMPONENT },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: instance.slice(0, 128),
  };
}
