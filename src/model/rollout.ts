// The words of a template's rollout that the CRD's schema, the rollout controller and the CLI
// share: the phases status.rollout goes through and what became of each workload.

export const ROLLOUT_PHASES = ['Canary', 'Soaking', 'Progressing', 'Paused', 'Complete'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/**
 * restarting: in flight (its health gate not judged yet); passed, failed: the gate's verdict;
 * refused: the API server refused the restart; gone: deleted meanwhile; superseded: the
 * template changed while it restarted (not judged); reported: a bare pod,
 * Job or CronJob (or a workload a restart does not roll), never restarted.
 */
export const RESTART_RESULTS = ['restarting', 'passed', 'failed', 'refused', 'gone', 'superseded', 'reported'] as const;
export type RestartResult = (typeof RESTART_RESULTS)[number];

/** Finished restarts kept in status.rollout.restarted (restarts in flight are always kept). */
export const MAX_RESTARTED = 50;
