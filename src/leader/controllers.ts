// The controllers of `podpattern serve`: run in the one replica that holds the Lease, while
// every replica serves reviews whatever the election says. Today that is healing (heal/): a
// look at the cluster every interval while leading, none otherwise.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { EventSink } from '../events/recorder.js';
import type { Metrics } from '../metrics/index.js';
import { Healer, type HealApi, type HealerOptions } from '../heal/healer.js';
import { nextPod, type InjectFunction } from '../impact/check.js';
import type { Catalog } from '../model/template.js';
import type { InjectOptions } from '../engine/types.js';
import { isOwnKey } from '../model/keys.js';
import { LeaderElector, type LeaseStore } from './elector.js';

/** The Lease's name, in podpattern's namespace. */
export const LEASE_NAME = 'podpattern-controllers';

export interface ControllerSettings {
  healGraceSeconds: number;
  /** 0 turns healing off. */
  healRestartsPerMinute: number;
  healIntervalSeconds: number;
}

export interface ControllerDeps {
  store: LeaseStore;
  heal: HealApi;
  identity: string;
  logger: Logger;
  metrics: Metrics;
  events: EventSink;
  ready: () => boolean;
  /** Why a workload's next pod would be denied now (healing does not restart those); see nextPodDenial(). */
  nextPodDenial?: HealerOptions['nextPodDenial'];
  settings: ControllerSettings;
  /** Lease timing (seconds); client-go's defaults unless given (tests shorten them). */
  lease?: { leaseSeconds: number; renewDeadlineSeconds: number; retrySeconds: number };
}

export interface Controllers {
  readonly elector: LeaderElector;
  readonly healer: Healer;
  start(): void;
  stop(): Promise<void>;
}

export function controllers(deps: ControllerDeps): Controllers {
  const { logger, metrics, settings } = deps;
  const healer = new Healer({
    api: deps.heal,
    events: deps.events,
    logger,
    graceMs: settings.healGraceSeconds * 1000,
    restartsPerMinute: settings.healRestartsPerMinute,
    ready: deps.ready,
    ...(deps.nextPodDenial === undefined ? {} : { nextPodDenial: deps.nextPodDenial }),
    metrics: {
      restarted: (kind) => metrics.healRestarts.inc({ kind }),
      reported: (kind, reason) => metrics.healReports.inc({ kind, reason }),
      missed: (count) => metrics.healMissedPods.set(count),
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let leading = false;
  const healing = settings.healRestartsPerMinute > 0;
  const loop = (delayMs: number): void => {
    if (!leading || !healing) return;
    timer = setTimeout(() => {
      running = healer
        .pass()
        .then(
          (result) => {
            if (result.state === 'done') metrics.healPasses.inc();
            if (result.restarted.length + result.reported.length + result.deferred.length > 0) logger.info({ ...result }, 'healing pass');
          },
          (error: unknown) =>
            logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'healing pass failed; trying again at the next'),
        )
        .finally(() => {
          running = undefined;
          loop(settings.healIntervalSeconds * 1000);
        });
    }, delayMs);
    timer.unref();
  };
  const elector = new LeaderElector({
    store: deps.store,
    identity: deps.identity,
    logger,
    ...deps.lease,
    onStartedLeading: () => {
      leading = true;
      metrics.leader.set(1);
      loop(0);
    },
    onStoppedLeading: () => {
      leading = false;
      metrics.leader.set(0);
      clearTimeout(timer);
    },
  });
  metrics.leader.set(0);
  return {
    elector,
    healer,
    start: () => elector.start(),
    async stop() {
      await elector.stop();
      leading = false;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * The engine's verdict on the pod a workload would create next, rebuilt from the podpattern
 * annotations its pods asked with (as the impact check rebuilds it): the denial's message, or
 * undefined when it would be admitted.
 */
export function nextPodDenial(engine: {
  inject: InjectFunction;
  catalog: () => Catalog;
  options: (namespace: string) => InjectOptions;
}): NonNullable<HealerOptions['nextPodDenial']> {
  return (namespace, workload, annotations) => {
    const asked = Object.fromEntries(Object.entries(annotations).filter(([key]) => isOwnKey(key)));
    const result = engine.inject(nextPod({ namespace, workload, asked, pods: 1, hashes: [] }), engine.catalog(), engine.options(namespace));
    return result.outcome === 'denied' ? result.message : undefined;
  };
}

/** The controllers against a cluster: the Lease and healing through client-node. */
export async function clusterControllers(
  config: KubeConfig,
  namespace: string,
  deps: Omit<ControllerDeps, 'store' | 'heal'>,
): Promise<Controllers> {
  const { kubeLeaseStore } = await import('./lease-kube.js');
  const { kubeHealApi } = await import('../heal/heal-kube.js');
  return controllers({ ...deps, store: kubeLeaseStore(config, namespace, LEASE_NAME), heal: kubeHealApi(config) });
}
