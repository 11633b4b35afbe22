// The rollout controller: run by the replica that holds the controllers' Lease, next to healing.
// For each cluster PatternTemplate with spec.rollout.restart: auto whose rollout is not paused,
// the Deployments, StatefulSets and DaemonSets whose pods record an older hash of it are
// restarted the way `kubectl rollout restart` does (so each workload's own strategy and
// PodDisruptionBudget pace its pods), canary namespaces first, at most maxConcurrent at once
// cluster-wide and one per namespace. Each restarted workload passes a health gate: its rollout
// completes (as `kubectl rollout status` judges it) within healthTimeoutSeconds, and the injected
// containers of its new pods restarted at most maxInjectedRestarts times. A failure, or a restart
// the API server refuses, pauses the template's rollout (the podpattern.dev/rollout-paused
// annotation) with Events, the RolloutPaused condition and a metric. With a canary, once every
// canary workload passed, the new revision soaks, then is promoted (its ControllerRevision
// labelled) and the rest follows. Everything the controller knows lives in the template's
// status, so a new leader goes on where the last one stopped. Bare pods, Jobs and CronJobs are
// reported in the status, never restarted.
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import type { InvolvedObject } from '../events/recorder.js';
import { message } from '../heal/healer.js';
import { isRestartable, type RestartableKind } from '../heal/missed.js';
import type { RevisionInfo, RolloutOptions, RolloutPassResult, TemplateObject } from './api.js';
import { failedCanary, notRestartedMessage, planOf, templateInvolved, workloadsOf, type Plan, type Workload } from './outdated.js';
import {
  PAUSED_CONDITION,
  PAUSED_KEY,
  injectedRestarts,
  notRolled,
  oneLine,
  pausedCondition,
  readRolloutStatus,
  rolloutProgress,
  rolloutSettings,
  trimRestarted,
  type InjectedCount,
  type RestartEntry,
  type RolloutSettings,
  type RolloutStatus,
  type WorkloadState,
} from './plan.js';

export type { RevisionInfo, RolloutApi, RolloutMetrics, RolloutOptions, RolloutPassResult, TemplateObject } from './api.js';

/** What one pass shares across templates. */
interface Pass {
  /** Restarts in flight by namespace, whatever the template: one at a time per namespace. */
  busy: Map<string, number>;
  namespaceLabels: () => Promise<Map<string, Record<string, string>>>;
  result: RolloutPassResult;
}

/** One template's rollout in one pass: what its status said, and what it becomes. */
interface Run {
  object: TemplateObject;
  name: string;
  settings: RolloutSettings;
  current: string;
  promoted: string | undefined;
  /** A canary is set and the current revision is not promoted: only canary namespaces get it. */
  inCanary: boolean;
  revisions: RevisionInfo[];
  next: RolloutStatus;
  now: number;
  pausedWhy: string | undefined;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** An API server's refusal that will not go away by itself (RBAC, an admission webhook or policy, validation). */
function refusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 400 && code < 500 && code !== 404 && code !== 409 && code !== 429;
}

const busyIn = (pass: Pass, namespace: string, change: number): void => {
  pass.busy.set(namespace, Math.max(0, (pass.busy.get(namespace) ?? 0) + change));
};

export class RolloutController {
  private readonly now: () => number;

  constructor(private readonly options: RolloutOptions) {
    this.now = options.now ?? Date.now;
  }

  /** One look at every template: judge restarts in flight, start the next ones, soak and promote. */
  async pass(): Promise<RolloutPassResult> {
    const objects = await this.options.api.templates();
    const pass: Pass = {
      busy: new Map(),
      namespaceLabels: () => Promise.resolve(new Map()),
      result: { restarted: [], paused: [], promoted: [] },
    };
    for (const object of objects) {
      for (const e of readRolloutStatus(object.status?.rollout)?.restarted ?? [])
        if (e.result === 'restarting') busyIn(pass, e.namespace, 1);
    }
    let labels: Promise<Map<string, Record<string, string>>> | undefined;
    pass.namespaceLabels = () => (labels ??= this.options.api.namespaceLabels());
    const paused = new Map<string, boolean>();
    for (const object of objects) {
      const name = object.metadata?.name;
      if (typeof name !== 'string') continue;
      paused.set(name, object.metadata?.annotations?.[PAUSED_KEY] !== undefined);
      const settings = rolloutSettings((object.spec as { rollout?: unknown } | undefined)?.rollout);
      if (settings.restart !== 'auto') continue;
      // One template that cannot be rolled (its revisions unreadable, RBAC) never holds up the others.
      try {
        if (await this.reconcile(object, name, settings, pass)) paused.set(name, true);
      } catch (error) {
        this.options.logger.warn({ template: name, err: message(error) }, 'rollout pass failed for a template; trying again at the next');
      }
    }
    this.options.metrics.paused(paused);
    return pass.result;
  }

  /** One template's rollout; true when it is paused. */
  private async reconcile(object: TemplateObject, name: string, settings: RolloutSettings, pass: Pass): Promise<boolean> {
    const run = await this.begin(object, name, settings);
    // An invalid template: its last good version stays in force and its Ready condition says why.
    if (run === undefined) return false;
    await this.judgeInFlight(run, pass);
    if (run.pausedWhy !== undefined) return this.finishPaused(run);
    const usages = this.options.usages(name);
    if (usages === undefined) {
      run.next.message = 'waiting for the index of injected pods to list';
      await this.write(run);
      return false;
    }
    const workloads = await workloadsOf(usages, (namespace, owner) => this.options.api.controllerOf(namespace, owner));
    const plan = planOf(run, workloads, await pass.namespaceLabels());
    const flying = await this.startRestarts(run, plan, pass);
    if (run.pausedWhy === undefined) await this.advance(run, plan, flying, pass.result);
    if (run.pausedWhy !== undefined) return this.finishPaused(run);
    await this.write(run);
    return false;
  }

  private async begin(object: TemplateObject, name: string, settings: RolloutSettings): Promise<Run | undefined> {
    const verdict = validateTemplate(templateOfObject(object), 'cluster', name);
    if (!verdict.ok) return undefined;
    const current = verdict.template.hash;
    const now = this.now();
    const prior = readRolloutStatus(object.status?.rollout);
    const same = prior?.revision === current;
    const revisions = await this.options.api.revisions(name);
    // As canary serving (impact/staged.ts) sees it: the promoted revision is the highest-numbered
    // one labelled promoted, and a current spec that hashes as any promoted revision is not in canary.
    const promotedRevisions = revisions.filter((r) => r.promoted);
    const promoted = promotedRevisions.sort((a, b) => b.revision - a.revision)[0]?.hash;
    const next: RolloutStatus = {
      revision: current,
      ...(promoted === undefined ? {} : { promoted }),
      phase: 'Progressing',
      since: same ? prior.since : iso(now),
      ...(same && prior.soakSince !== undefined ? { soakSince: prior.soakSince } : {}),
      restarted: (prior?.restarted ?? []).map((e) => ({ ...e })),
      message: '',
    };
    const inCanary = settings.canary !== undefined && promoted !== undefined && !promotedRevisions.some((r) => r.hash === current);
    return {
      object,
      name,
      settings,
      current,
      promoted,
      inCanary,
      revisions,
      next,
      now,
      pausedWhy: object.metadata?.annotations?.[PAUSED_KEY],
    };
  }

  /** The health gates of the restarts in flight. Paused, their workloads roll on by themselves, unjudged. */
  private async judgeInFlight(run: Run, pass: Pass): Promise<void> {
    for (const entry of run.next.restarted) {
      if (entry.result !== 'restarting') continue;
      if (entry.hash !== run.current && entry.hash !== run.promoted) {
        // The template changed (or was undone) while it restarted: what it restarted for is no
        // longer wanted, and the workload is looked at again for what is.
        entry.result = 'superseded';
        entry.message = `the template changed to ${run.current} while it restarted`;
        busyIn(pass, entry.namespace, -1);
        continue;
      }
      if (run.pausedWhy !== undefined) continue;
      const failed = await this.judge(run, entry);
      if (entry.result !== 'restarting') busyIn(pass, entry.namespace, -1);
      if (failed !== undefined) await this.pause(run, entry, 'HealthCheckFailed', failed, pass.result);
    }
  }

  /**
   * A restart in flight judged: undefined while it waits or once it passed (the entry updated),
   * or why it failed.
   */
  private async judge(run: Run, entry: RestartEntry): Promise<string | undefined> {
    const state = await this.options.api.readWorkload(entry.namespace, entry.kind as RestartableKind, entry.name);
    if (state === undefined) {
      entry.result = 'gone';
      entry.message = 'deleted while it restarted';
      this.options.metrics.restarted('gone');
      return undefined;
    }
    const { maxInjectedRestarts, healthTimeoutMs } = run.settings;
    const count = await this.injected(run.name, entry, state);
    if (count.restarts > maxInjectedRestarts) {
      return this.fail(
        entry,
        `the injected containers of its new pods restarted ${count.restarts} times (at most ${maxInjectedRestarts}): ${count.worst ?? ''}`,
      );
    }
    let progress = rolloutProgress(state);
    if (progress.state === 'failed') return this.fail(entry, progress.why);
    if (progress.state === 'done' && count.others > 0) {
      // Rolled out, but with pods injected from another revision (a replica whose catalog had
      // not caught up): not passed; the timeout ends it if they stay.
      progress = { state: 'waiting', why: `${count.others} of its pods record another revision of the template than ${entry.hash}` };
    }
    if (progress.state === 'done') {
      entry.result = 'passed';
      entry.message = `rolled out: ${count.pods} pod(s) run revision ${entry.hash}`;
      this.options.metrics.restarted('passed');
      return undefined;
    }
    if (run.now - Date.parse(entry.at) > healthTimeoutMs)
      return this.fail(entry, `its rollout did not complete within ${healthTimeoutMs / 1000}s: ${progress.why}`);
    entry.message = progress.why;
    return undefined;
  }

  private fail(entry: RestartEntry, why: string): string {
    entry.result = 'failed';
    entry.message = oneLine(why, 1024);
    this.options.metrics.restarted('failed');
    return why;
  }

  private async injected(template: string, entry: RestartEntry, state: WorkloadState): Promise<InjectedCount> {
    if (state.selector === undefined) return { pods: 0, others: 0, restarts: 0, worst: undefined };
    return injectedRestarts(await this.options.api.pods(entry.namespace, state.selector), template, entry.hash);
  }

  /** Pauses the template's rollout for `entry`: the annotation first (if it cannot be written, nothing else is), then Events. */
  private async pause(
    run: Run,
    entry: RestartEntry,
    reason: 'HealthCheckFailed' | 'RestartRefused',
    why: string,
    result: RolloutPassResult,
  ): Promise<void> {
    const what = reason === 'RestartRefused' ? 'could not be restarted' : 'failed the health gate';
    const line = oneLine(`${entry.kind} ${entry.namespace}/${entry.name} ${what} for revision ${entry.hash}: ${why}`);
    await this.options.api.pause(run.name, line);
    run.pausedWhy = line;
    const workload: InvolvedObject = { apiVersion: 'apps/v1', kind: entry.kind, name: entry.name, namespace: entry.namespace };
    this.options.events.record({
      type: 'Warning',
      reason: reason === 'RestartRefused' ? 'RolloutRestartRefused' : 'RolloutHealthCheckFailed',
      involved: workload,
      key: `rollout ${run.name}`,
      message: `template ${run.name} revision ${entry.hash}: ${oneLine(why, 1024)}; the template's rollout is paused`,
    });
    this.options.events.record({
      type: 'Warning',
      reason: 'RolloutPaused',
      involved: templateInvolved(run.name, run.object.metadata?.uid),
      key: 'rollout',
      message: `${line}. Fix it and run podpattern rollout resume ${run.name}, or podpattern rollout undo ${run.name}`,
    });
    this.options.logger.warn({ template: run.name, workload: `${entry.namespace}/${entry.kind}/${entry.name}`, reason }, line);
    result.paused.push(run.name);
  }

  private async finishPaused(run: Run): Promise<true> {
    run.next.phase = 'Paused';
    run.next.message = oneLine(run.pausedWhy ?? '');
    run.next.restarted = trimRestarted(run.next.restarted);
    await this.write(run);
    return true;
  }

  /** The next restarts: maxConcurrent of this template at once, one per namespace. Returns how many are in flight. */
  private async startRestarts(run: Run, plan: Plan, pass: Pass): Promise<number> {
    const { next, name } = run;
    let flying = next.restarted.filter((e) => e.result === 'restarting').length;
    const { served } = this.options;
    let lagging: string | undefined;
    for (const w of plan.waiting) {
      const entry: RestartEntry = {
        kind: w.kind,
        namespace: w.namespace,
        name: w.name,
        hash: plan.target(w.namespace),
        at: iso(run.now),
        result: 'restarting',
      };
      if (!isRestartable(w.kind)) {
        next.restarted.push({ ...entry, result: 'reported', message: notRestartedMessage(w) });
        this.options.logger.info(
          { template: name, workload: `${w.namespace}/${w.kind}/${w.name}` },
          'runs an outdated revision and is not restarted by podpattern',
        );
        continue;
      }
      if (flying >= run.settings.maxConcurrent) break;
      if (served !== undefined && served(name, plan.canary(w.namespace)) !== entry.hash) {
        lagging = entry.hash;
        continue;
      }
      if ((pass.busy.get(w.namespace) ?? 0) > 0) continue;
      const workload = { ...w, kind: w.kind };
      const state = await this.options.api.readWorkload(w.namespace, workload.kind, w.name);
      if (state === undefined) continue;
      const unrolled = notRolled(state);
      if (unrolled !== undefined) {
        next.restarted.push({ ...entry, result: 'reported', message: `not restarted: ${unrolled}` });
        continue;
      }
      const made = await this.restart(run, entry, workload, state, pass.result);
      if (made === 'refused') return flying;
      if (made === 'later') continue;
      busyIn(pass, w.namespace, 1);
      flying += 1;
    }
    next.restarted = trimRestarted(next.restarted);
    if (lagging !== undefined) next.message = `waiting for the catalog to serve revision ${lagging}`;
    return flying;
  }

  private async restart(
    run: Run,
    entry: RestartEntry,
    w: Workload & { kind: RestartableKind },
    state: WorkloadState,
    result: RolloutPassResult,
  ): Promise<'made' | 'later' | 'refused'> {
    const label = `${w.namespace}/${w.kind}/${w.name}`;
    try {
      await this.options.api.restart(w.namespace, w.kind, w.name, state.resourceVersion, run.now);
    } catch (error) {
      if (!refusal(error)) {
        // Changed meanwhile, gone, throttled or the API server unwell: the next pass looks again.
        this.options.logger.info(
          { template: run.name, workload: label, err: message(error) },
          'restart not made; trying again at the next pass',
        );
        return 'later';
      }
      const why = message(error);
      run.next.restarted.push({ ...entry, result: 'refused', message: oneLine(why, 1024) });
      this.options.metrics.restarted('refused');
      await this.pause(run, entry, 'RestartRefused', why, result);
      return 'refused';
    }
    run.next.restarted.push(entry);
    result.restarted.push(label);
    const ran = [...w.hashes].filter((h) => h !== entry.hash).join(', ');
    this.options.events.record({
      type: 'Normal',
      reason: 'RolloutRestarted',
      involved: { apiVersion: 'apps/v1', kind: w.kind, name: w.name, namespace: w.namespace, uid: state.uid },
      key: `rollout ${run.name}`,
      message: `restarted (as kubectl rollout restart does) so that its pods get template ${run.name} revision ${entry.hash}; they ran ${ran}`,
    });
    this.options.logger.info(
      { template: run.name, workload: label, hash: entry.hash },
      'restarted a workload running an outdated revision',
    );
    return 'made';
  }

  /** The phase: canary, soak and promotion, or the rest. */
  private async advance(run: Run, plan: Plan, flying: number, result: RolloutPassResult): Promise<void> {
    const { next } = run;
    const left = plan.waiting.filter((w) => isRestartable(w.kind) && !plan.settled(w)).length;
    if (!run.inCanary) {
      const done = flying === 0 && left === 0;
      next.phase = done ? 'Complete' : 'Progressing';
      if (next.message === '')
        next.message = done
          ? `every restartable workload runs revision ${run.current}`
          : `${flying} workload(s) restarting, ${left} to restart`;
      delete next.soakSince;
      // Revisions recorded before promotion existed carry no label: the current one is promoted, so the next change is staged.
      if (done && run.settings.canary !== undefined && run.promoted === undefined) await this.promote(run, false, result);
      return;
    }
    if (flying > 0 || left > 0) {
      next.phase = 'Canary';
      if (next.message === '') next.message = `${flying} canary workload(s) restarting, ${left} to restart`;
      delete next.soakSince;
      return;
    }
    const failed = failedCanary(plan, run);
    if (failed !== undefined) {
      Object.assign(next, { phase: 'Canary', message: failed });
      delete next.soakSince;
      return;
    }
    const soured = await this.soakFailure(run);
    if (soured !== undefined) {
      await this.pause(run, soured.entry, 'HealthCheckFailed', soured.why, result);
      return;
    }
    next.soakSince ??= iso(run.now);
    const end = Date.parse(next.soakSince) + (run.settings.canary?.soakMs ?? 0);
    if (run.now >= end && (await this.promote(run, true, result))) return;
    next.phase = 'Soaking';
    next.message = `the canary soaks until ${iso(end)}`;
  }

  /** Labels the current revision promoted; false while it is not recorded yet. */
  private async promote(run: Run, afterSoak: boolean, result: RolloutPassResult): Promise<boolean> {
    const revision = run.revisions.find((r) => r.hash === run.current);
    if (revision === undefined || !(await this.options.api.promote(revision.name))) return false;
    run.next.promoted = run.current;
    if (!afterSoak) return true;
    delete run.next.soakSince;
    run.next.phase = 'Progressing';
    run.next.message = `revision ${run.current} promoted after its soak; the other namespaces follow`;
    result.promoted.push(run.name);
    this.options.events.record({
      type: 'Normal',
      reason: 'RolloutPromoted',
      involved: templateInvolved(run.name, run.object.metadata?.uid),
      key: 'rollout',
      message: `revision ${run.current} promoted: the canary passed its health gate for ${(run.settings.canary?.soakMs ?? 0) / 1000}s`,
    });
    return true;
  }

  /** While soaking: a canary workload that passed whose injected containers restarted too often since. */
  private async soakFailure(run: Run): Promise<{ entry: RestartEntry; why: string } | undefined> {
    const since = Date.parse(run.next.since);
    for (const entry of run.next.restarted) {
      if (entry.result !== 'passed' || entry.hash !== run.current || Date.parse(entry.at) < since) continue;
      const state = await this.options.api.readWorkload(entry.namespace, entry.kind as RestartableKind, entry.name);
      if (state === undefined) continue;
      const count = await this.injected(run.name, entry, state);
      if (count.restarts > run.settings.maxInjectedRestarts) {
        const why = `while the canary soaked, the injected containers restarted ${count.restarts} times (at most ${run.settings.maxInjectedRestarts}): ${count.worst ?? ''}`;
        return { entry, why: this.fail(entry, why) };
      }
    }
    return undefined;
  }

  /** Writes status.rollout and RolloutPaused when they differ from what the object shows. */
  private async write(run: Run): Promise<void> {
    const { object, next } = run;
    const conditions = object.status?.conditions ?? [];
    const condition = pausedCondition(next, conditions, object.metadata?.generation, this.now());
    if (condition === undefined && JSON.stringify(readRolloutStatus(object.status?.rollout)) === JSON.stringify(readRolloutStatus(next)))
      return;
    const paused = condition ?? conditions.find((c) => c.type === PAUSED_CONDITION);
    const others = conditions.filter((c) => c.type !== PAUSED_CONDITION);
    await this.options.api.writeStatus(run.name, next, paused === undefined ? others : [...others, paused]);
  }
}
