// The Event that records a forced template change: a Warning on the PatternTemplate, with the
// reason given in podpattern.dev/force-reason, who made the change, and the workloads whose next
// pods it denies. Events of cluster-scoped objects live in the `default` namespace, as
// client-go's recorder puts them, where `kubectl describe patterntemplate` finds them.
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '#kube';
import type { Logger } from 'pino';
import { TEMPLATE_API_VERSION, TEMPLATE_KIND } from '../model/template.js';
import { REPORTING_COMPONENT } from './kube-writer.js';
import { FORCE_REASON_KEY } from '../model/keys.js';
import type { ForcedChange } from '../impact/review.js';

export const FORCED_REASON = 'ForcedChange';
const EVENT_NAMESPACE = 'default';
const MAX_MESSAGE = 4096;

export function forcedChangeEvent(change: ForcedChange, instance: string, now: Date): CoreV1Event {
  const message = `${change.operation === 'DELETE' ? 'deleted' : 'changed'}${change.user === undefined ? '' : ` by ${change.user}`} with ${FORCE_REASON_KEY}: ${change.reason}. ${change.summary}`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${change.template.slice(0, 200)}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000)).toString(16)}`,
      namespace: EVENT_NAMESPACE,
    },
    involvedObject: {
      apiVersion: TEMPLATE_API_VERSION,
      kind: TEMPLATE_KIND,
      name: change.template,
      ...(change.uid === undefined ? {} : { uid: change.uid }),
    },
    reason: FORCED_REASON,
    message: message.length <= MAX_MESSAGE ? message : `${message.slice(0, MAX_MESSAGE - 1)}…`,
    type: 'Warning',
    count: 1,
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: REPORTING_COMPONENT },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: instance.slice(0, 128),
  };
}

/** Writes each forced change's Event in the background; a failure is logged, never thrown into the review. */
export function kubeForcedChangeRecorder(config: KubeConfig, instance: string, logger: Logger): (change: ForcedChange) => void {
  const api = config.makeApiClient(CoreV1Api);
  return (change) => {
    logger.warn(
      { template: change.template, operation: change.operation, user: change.user, forceReason: change.reason },
      'template change forced past the impact check',
    );
    api
      .createNamespacedEvent({ namespace: EVENT_NAMESPACE, body: forcedChangeEvent(change, instance, new Date()) })
      .catch((error: unknown) => {
        logger.warn(
          { template: change.template, err: error instanceof Error ? error.message : String(error) },
          'could not write the forced-change Event',
        );
      });
  };
}
