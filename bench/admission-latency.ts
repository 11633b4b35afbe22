// The API server's own admission latency for pod creations, read from its metrics
// (apiserver_admission_step_admission_duration_seconds: the time all mutating, then all
// validating, admission plugins took per request, webhooks and policies included). A benchmark, not a test:
// the e2e policy group calls it to compare webhook-less mode with the webhook for the same
// pods, and prints the figures; docs/policy.md records them.

export interface Kubectl {
  (args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

export interface StepLatency {
  pods: number;
  /** Mean milliseconds per pod spent in mutating admission (type="admit") and validating ("validate"). */
  admitMs: number;
  validateMs: number;
  /** Admitted CREATEs the API server counted while measuring (pods, plus any other object created meanwhile). */
  samples: number;
}

type Totals = Record<'admit' | 'validate', { sum: number; count: number }>;

async function readTotals(kubectl: Kubectl): Promise<Totals> {
  const result = await kubectl(['get', '--raw', '/metrics']);
  if (result.code !== 0) throw new Error(`cannot read the API server's metrics: ${result.stderr}`);
  const totals: Totals = { admit: { sum: 0, count: 0 }, validate: { sum: 0, count: 0 } };
  for (const line of result.stdout.split('\n')) {
    const match = /^apiserver_admission_step_admission_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = match[2] as string;
    // The step histogram has no resource label: every admitted CREATE counts. The benchmark's
    // pods are nearly all of them on an idle test cluster; `samples` says how many were counted.
    if (!labels.includes('operation="CREATE"') || !labels.includes('rejected="false"')) continue;
    const type = /type="(admit|validate)"/.exec(labels)?.[1] as 'admit' | 'validate' | undefined;
    if (type === undefined) continue;
    totals[type][match[1] as 'sum' | 'count'] += Number(match[3]);
  }
  return totals;
}

/**
 * Creates `pods` pods (server-side dry run: admission runs in full, nothing is stored) from
 * `manifest(i)` one after another, and returns the API server's mean admission time per pod.
 */
export async function measureAdmission(kubectl: Kubectl, pods: number, manifest: (i: number) => object): Promise<StepLatency> {
  const before = await readTotals(kubectl);
  for (let i = 0; i < pods; i += 1) {
    const created = await kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], JSON.stringify(manifest(i)));
    if (created.code !== 0) throw new Error(`pod ${i} was refused: ${created.stderr}`);
  }
  const after = await readTotals(kubectl);
  const mean = (type: 'admit' | 'validate'): number => {
    const count = after[type].count - before[type].count;
    return count === 0 ? 0 : ((after[type].sum - before[type].sum) / count) * 1000;
  };
  return { pods, admitMs: mean('admit'), validateMs: mean('validate'), samples: after.admit.count - before.admit.count };
}
