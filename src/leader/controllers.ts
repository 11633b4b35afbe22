// The controllers of `podpattern serve`: run in the one replica that holds the Lease, while
// every replica serves reviews whatever the election says. Healing (heal/) and rollouts
// (rollout/): each a look at the cluster every interval while leading, none otherwise.
import type { KubeConfig } from '#kube';
import type { Logger } from 'pino';
import type { EventSink } from '../events/recorder.js';
import type { Metrics } from '../metrics/index.js';
import { Healer, type HealApi, type HealerOptions } from '../heal/healer.js';
import { nextPod, type InjectFunction } from '../impact/check.js';
import type { Usage } from '../impact/pod-index.js';
import type { Catalog } from '../model/template.js';
import type { InjectOptions } from '../engine/types.js';
import { isOwnKey } from '../model/keys.js';
import { RolloutController, type RolloutApi } from '../rollout/controller.js';
import { LeaderElector, type LeaseStore } from './elector.js';

/** The Lease's name, in podpattern's namespace. */
export const LEASE_NAME = 'podpattern-controllers';

export interface ControllerSettings {
  healGraceSeconds: number;
  /** 0 turns healing off. */
  healRestartsPerMinute: number;
  healIntervalSeconds: number;
  /** Whether the rollout controller runs (restart: auto templates); off by default here, the server's flag says. */
  rollout?: boolean;
  rolloutIntervalSeconds?: number;
}

export interface ControllerDeps {
  store: LeaseStore;
  heal: HealApi;
  /** The rollout controller's API; without it no rollout runs. */
  rollout?: RolloutApi;
  /** The pods running a template by workload (the index of injected pods); undefined until it has listed. */
  usages?: (template: string) => Usage[] | undefined;
  /** The hash this replica serves for a template in a canary namespace or another (no restart starts before it is the one wanted). */
  served?: (template: string, canary: boolean) => string | undefined;
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
  readonly rollout: RolloutController | undefined;
  start(): void;
  stop(): Promise<void>;
}

/** A pass run while leading: at once on taking the Lease, then `intervalMs` after each pass ends. */
interface Loop {
  start(): void;
  stop(): Promise<void>;
}

function loop(intervalMs: number, pass: () => Promise<void>): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let on = false;
  const schedule = (delayMs: number): void => {
    if (!on) return;
    timer = setTimeout(() => {
      running = pass().finally(() => {
        running = undefined;
        schedule(intervalMs);
      });
    }, delayMs);
    timer.unref();
  };
  return {
    start() {
      on = true;
      clearTimeout(timer);
      // A pass still running (leadership lost and taken back meanwhile) schedules the next itself.
      if (running === undefined) schedule(0);
    },
    async stop() {
      on = false;
      clearTimeout(timer);
      await running;
    },
  };
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
  const loops: Loop[] = [];
  if (settings.healRestartsPerMinute > 0) {
    loops.push(
      loop(settings.healIntervalSeconds * 1000, () =>
        healer.pass().then(
          (result) => {
            if (result.state === 'done') metrics.healPasses.inc();
            if (result.restarted.length + result.reported.length + result.deferred.length > 0) logger.info({ ...result }, 'healing pass');
          },
          (error: unknown) =>
            logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'healing pass failed; trying again at the next'),
        ),
      ),
    );
  }
  const rollout = rolloutController(deps);
  if (rollout !== undefined) {
    loops.push(
      loop((settings.rolloutIntervalSeconds ?? 10) * 1000, () =>
        rollout.pass().then(
          (result) => {
            metrics.rolloutPasses.inc();
            if (result.restarted.length + result.paused.length + result.promoted.length > 0) logger.info({ ...result }, 'rollout pass');
          },
          (error: unknown) =>
            logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'rollout pass failed; trying again at the next'),
        ),
      ),
    );
  }
  const stopAll = async (): Promise<void> => {
    await Promise.all(loops.map((l) => l.stop()));
  };
  const elector = new LeaderElector({
    store: deps.store,
    identity: deps.identity,
    logger,
    ...deps.lease,
    onStartedLeading: () => {
      metrics.leader.set(1);
      for (const l of loops) l.start();
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      // Only the leader says which rollouts are paused.
      metrics.rolloutPaused.reset();
      void stopAll();
    },
  });
  metrics.leader.set(0);
  return {
    elector,
    healer,
    rollout,
    start: () => elector.start(),
    async stop() {
      await elector.stop();
      await stopAll();
    },
  };
}

/** The rollout controller, when the settings turn it on and its API and the index are given. */
function rolloutController(deps: ControllerDeps): RolloutController | undefined {
  if (deps.settings.rollout !== true || deps.rollout === undefined || deps.usages === undefined) return undefined;
  const { metrics } = deps;
  return new RolloutController({
    api: deps.rollout,
    usages: deps.usages,
    ...(deps.served === undefined ? {} : { served: deps.served }),
    events: deps.events,
    logger: deps.logger,
    metrics: {
      restarted: (result) => metrics.rolloutRestarts.inc({ result }),
      paused: (states) => {
        metrics.rolloutPaused.reset();
        for (const [template, paused] of states) metrics.rolloutPaused.set({ template }, paused ? 1 : 0);
      },
    },
  });
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

/** The controllers against a cluster: the Lease, healing and rollouts through client-node. */
export async function clusterControllers(
  config: KubeConfig,
  namespace: string,
  deps: Omit<ControllerDeps, 'store' | 'heal' | 'rollout'>,
): Promise<Controllers> {
  const { kubeLeaseStore } = await import('./lease-kube.js');
  const { kubeHealApi } = await import('../heal/heal-kube.js');
  const { kubeRolloutApi } = await import('../rollout/rollout-kube.js');
  return controllers({
    ...deps,
    store: kubeLeaseStore(config, namespace, LEASE_NAME),
    heal: kubeHealApi(config),
    rollout: kubeRolloutApi(config, namespace),
  });
}
