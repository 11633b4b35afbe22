// `npm run bench:cluster`: the burst on a real control plane, measured by the API server itself.
//
// The current leg's control plane (harness.ts) with the release rehearsal's chart installed
// (two replicas). Seven phases, one after another, each in two new namespaces (the pods of one
// removed before the next begins, clearBurst in burst.ts says why): a Deployment in
// each scaled from 0 to PODPATTERN_BURST_REPLICAS (default 500) at once, so the ReplicaSet
// controller creates the pods through the admission chain:
//   webhook            an `enabled` and a `required` namespace, podpattern's webhook injects
//   policies           two namespaces served by the template compiled to admission policies alone
//   floor-node         two namespaces whose pods go to a Node webhook that does no work
//   floor-node-threads the same, the Node webhook terminating TLS on worker threads
//   floor-go           the same with a Go webhook that does no work (burst-floor.ts says why)
//   webhook + upgrade  as webhook, with `helm upgrade` rolling podpattern's pods meanwhile
//   policies + upgrade as policies, with the same rollout beside it (the load it adds)
// PODPATTERN_BURST_PHASES=webhook,floor-node (say) runs only those, in that order.
// For each: pods created, injected, left uninjected, FailedCreate Events; and the change in
// kube-apiserver's /metrics over the phase: podpattern's webhook call durations
// (apiserver_admission_webhook_admission_duration_seconds) and rejections, the two mutating
// admission plugins' durations per CREATE (apiserver_admission_controller_admission_duration_seconds,
// name MutatingAdmissionWebhook or MutatingAdmissionPolicy), the policies' own CEL time
// (apiserver_mutating_admission_policy_check_duration_seconds) and the pod creations' request
// latency (apiserver_request_duration_seconds, verb POST, resource pods). A benchmark: it prints
// figures and whether they meet their targets; it asserts nothing and exits 0 unless it could not run.
//
// kube-controller-manager's clients are limited to 20 requests/s (burst 30) by default, which
// would pace the burst rather than admission does; here they get --kube-api-qps=100
// --kube-api-burst=200. Hold the machine's e2e lock while it runs (one cluster at a time).
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT, startCluster } from './harness.js';
import { Kube, RELEASE, RELEASE_NAMESPACE, eventually } from './kube.js';
import type { RunResult } from './cluster.js';
import { loadBuiltinCatalog, outcome, podManifest, requestAnnotations, type Json, type TemplateInfo } from './pods.js';
import { RolloutWatch, burstDeployment, clearBurst, scaleAndCount, type BurstCount } from './burst.js';
import { figures, printCounts, printFigures, printTargets, readMetrics, type PhasePath, type PhaseResult } from './burst-report.js';
import { FLOOR_LABEL, startFloor, type FloorKind } from './burst-floor.js';

const REPLICAS = positive(process.env.PODPATTERN_BURST_REPLICAS, 500);
const PHASES: ReadonlyArray<[PhasePath, boolean]> = [
  ['webhook', false],
  ['policies', false],
  ['floor-node', false],
  ['floor-node-threads', false],
  ['floor-go', false],
  ['webhook', true],
  ['policies', true],
];
const phaseName = ([path, upgrade]: readonly [PhasePath, boolean]): string => `${path}${upgrade ? ' + upgrade' : ''}`;
const CONTROLLER_QPS = 100;
const CONTROLLER_BURST = 200;
/** Selects the namespaces the compiled policies serve; the webhook never serves them. */
const POLICY_LABEL = 'podpattern-bench/admission';

function positive(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 5000)
    throw new Error(`PODPATTERN_BURST_REPLICAS=${text}: a whole number from 1 to 5000`);
  return value;
}

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** The template compiled by `podpattern policy`, bound to POLICY_LABEL's namespaces, applied and in effect. */
async function installPolicies(kube: Kube, template: TemplateInfo): Promise<void> {
  const compiled = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'dist', 'src', 'bin', 'podpattern.js'), 'policy', template.name, '-o', 'json'],
    { encoding: 'utf8' },
  );
  if (compiled.status !== 0) throw new Error(`podpattern policy ${template.name}: ${compiled.stderr}`);
  const list = JSON.parse(compiled.stdout) as Json;
  for (const item of list.items as Json[]) {
    if (item.kind.endsWith('Binding')) item.spec.matchResources.namespaceSelector = { matchLabels: { [POLICY_LABEL]: 'policies' } };
  }
  await kube.must(['apply', '-f', '-'], JSON.stringify(list));
  const probe = await kube.namespace(undefined, { labels: { [POLICY_LABEL]: 'policies' } });
  await eventually(
    'the policies to inject',
    async () => {
      const created = await kube.create(podManifest(kube.unique('probe'), probe, requestAnnotations(template)), ['--dry-run=server']);
      return created.object?.metadata?.annotations?.['podpattern.dev/status'] !== undefined ? true : undefined;
    },
    120_000,
  );
}

/** The phases PODPATTERN_BURST_PHASES names, or all of them. */
function chosenPhases(text: string | undefined): ReadonlyArray<[PhasePath, boolean]> {
  if (text === undefined || text.trim() === '') return PHASES;
  return text.split(',').map((name) => {
    const phase = PHASES.find((p) => phaseName(p).replace(/ /g, '') === name.trim().replace(/ /g, ''));
    if (phase === undefined)
      throw new Error(`PODPATTERN_BURST_PHASES: no phase ${JSON.stringify(name)} (the phases: ${PHASES.map(phaseName).join(', ')})`);
    return phase;
  });
}

/** Two namespaces for a phase, each with the burst Deployment at 0 replicas. */
async function phaseNamespaces(kube: Kube, path: PhasePath, template: TemplateInfo): Promise<string[]> {
  const labelled = async (labels: Record<string, string>): Promise<string[]> => [
    await kube.namespace(undefined, { labels }),
    await kube.namespace(undefined, { labels }),
  ];
  const namespaces =
    path === 'webhook'
      ? [await kube.namespace('enabled'), await kube.namespace('required')]
      : path === 'policies'
        ? await labelled({ [POLICY_LABEL]: 'policies' })
        : await labelled({ [FLOOR_LABEL]: floorKind(path) });
  for (const ns of namespaces) await kube.must(['apply', '-f', '-'], JSON.stringify(burstDeployment(ns, template)));
  return namespaces;
}

const floorKind = (path: PhasePath): FloorKind => path.slice('floor-'.length) as FloorKind;

async function runPhase(kube: Kube, template: TemplateInfo, path: PhasePath, upgrade: boolean, round: number): Promise<PhaseResult> {
  const floor = path.startsWith('floor-') ? await startFloor(kube, kube.cluster, floorKind(path)) : undefined;
  try {
    return await measurePhase(kube, template, path, upgrade, round);
  } finally {
    await floor?.stop();
  }
}

async function measurePhase(kube: Kube, template: TemplateInfo, path: PhasePath, upgrade: boolean, round: number): Promise<PhaseResult> {
  const namespaces = await phaseNamespaces(kube, path, template);
  const loadBefore = load();
  const before = await readMetrics(kube);
  const ownBefore = path === 'webhook' && !upgrade ? await podpatternSide(kube) : undefined;
  const watch = new RolloutWatch(kube);
  await watch.begin();
  const upgradeStarted = Date.now();
  // Without --wait: helm applies the change and returns; the rollout is followed below, with its
  // own ceiling, so a rollout that stalls is reported with why, and leaves no release mid-upgrade.
  const { chart, version } = kube.cluster.release;
  const upgrading = upgrade
    ? kube.helm([
        'upgrade',
        RELEASE,
        chart,
        '--version',
        version,
        '--plain-http',
        '--namespace',
        RELEASE_NAMESPACE,
        '--set',
        `podAnnotations.podpattern-burst=rollout-${round}`,
      ])
    : undefined;
  const counts: BurstCount[] = await scaleAndCount(
    kube,
    namespaces.map((namespace) => ({ namespace, wanted: REPLICAS })),
    {
      ceilingMs: 300_000,
      stallMs: 90_000,
      onTick: async () => void (upgrade ? await watch.poll() : undefined),
    },
    template,
  );
  const after = await readMetrics(kube);
  const own = ownBefore === undefined ? undefined : describeOwn(ownBefore, await podpatternSide(kube));
  let rollout: string | undefined;
  if (upgrading !== undefined) rollout = await followRollout(kube, upgrading, watch, upgradeStarted);
  // The next phase starts on an empty node (clearBurst says why).
  const left = await clearBurst(kube, namespaces, 300_000);
  if (left !== undefined) rollout = `${rollout ?? ''}${rollout === undefined ? '' : '; '}${left}`;
  const modes = path === 'webhook' ? ['enabled', 'required'] : [1, 2].map((n) => `${path} ${n}`);
  return {
    name: phaseName([path, upgrade]),
    path,
    upgrade,
    counts: counts.map((c, i) => ({ ...c, mode: modes[i] as string })),
    figures: figures(before, after),
    rollout,
    ...(own === undefined ? {} : { own }),
    load: `${loadBefore} -> ${load()}`,
  };
}

/** podpattern's own counts, summed over its replicas: reviews, how many answered within 5 and 25 ms, TLS handshakes. */
async function podpatternSide(kube: Kube): Promise<{ reviews: number; within5: number; within25: number; handshakes: number }> {
  const duration = 'podpattern_review_duration_seconds';
  return {
    reviews: await kube.metric(`${duration}_count`),
    within5: await kube.metric(`${duration}_bucket`, { le: '0.005' }),
    within25: await kube.metric(`${duration}_bucket`, { le: '0.025' }),
    handshakes: await kube.metric('podpattern_tls_handshakes_total'),
  };
}

function describeOwn(before: Awaited<ReturnType<typeof podpatternSide>>, after: Awaited<ReturnType<typeof podpatternSide>>): string {
  const reviews = after.reviews - before.reviews;
  const share = (n: number): string => `${((100 * n) / Math.max(1, reviews)).toFixed(1)} %`;
  return (
    `podpattern's own: ${reviews} reviews, ${share(after.within5 - before.within5)} answered within 5 ms of arriving, ` +
    `${share(after.within25 - before.within25)} within 25 ms; ${after.handshakes - before.handshakes} new TLS connections`
  );
}

/** The rollout's end (or why it did not end within 4 minutes), and its steps. */
async function followRollout(kube: Kube, upgrading: Promise<RunResult>, watch: RolloutWatch, started: number): Promise<string> {
  const applied = await upgrading;
  if (applied.code !== 0) return outcome(applied, 'helm upgrade');
  const rolled = await kube.kubectl(['rollout', 'status', `deployment/${RELEASE}`, '-n', RELEASE_NAMESPACE, '--timeout=240s']);
  await watch.poll();
  const took = `${((Date.now() - started) / 1000).toFixed(0)} s`;
  if (rolled.code === 0) {
    const endpoints = await kube.webhookEndpoints(2).then(
      () => '',
      (error: Error) => `; ${error.message}`,
    );
    return `rollout done in ${took}; ${watch.describe()}${endpoints}`;
  }
  const pods = await kube.kubectl(['get', 'pods', '-n', RELEASE_NAMESPACE, '-o', 'wide']);
  const events = await kube.kubectl(['get', 'events', '-n', RELEASE_NAMESPACE, '--sort-by=.lastTimestamp']);
  return `rollout NOT done after ${took} (${rolled.stderr.trim()}); steps: ${watch.describe()}\n${pods.stdout}\n${events.stdout.split('\n').slice(-15).join('\n')}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const phases = chosenPhases(process.env.PODPATTERN_BURST_PHASES);
  process.stdout.write(
    `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, shared; load average ${load()}\n`,
  );
  const cluster = await startCluster('current', {
    controllerManagerArgs: [`--kube-api-qps=${CONTROLLER_QPS}`, `--kube-api-burst=${CONTROLLER_BURST}`],
  });
  // Interrupted: the cluster stops and its files go, as at the end.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cluster.stop().finally(() => process.exit(130)));
  try {
    process.stdout.write(
      `Kubernetes ${cluster.serverVersion}; kube-controller-manager --kube-api-qps=${CONTROLLER_QPS} --kube-api-burst=${CONTROLLER_BURST}; ${REPLICAS} pods per namespace; chart ${cluster.release.chart}:${cluster.release.version}\n`,
    );
    const kube = new Kube(cluster);
    const installed = await kube.helmInstall('install');
    if (installed.code !== 0) throw new Error(outcome(installed, 'helm install'));
    await kube.webhookEndpoints(2);
    const template = (await loadBuiltinCatalog()).find((t) => t.name === 'https-proxy') as TemplateInfo;
    await installPolicies(kube, template);
    const results: PhaseResult[] = [];
    for (const [index, [path, upgrade]] of phases.entries()) {
      const result = await runPhase(kube, template, path, upgrade, index);
      results.push(result);
      // Each phase's figures as soon as it is over: an interrupted run keeps what it measured.
      process.stdout.write(
        `# ${result.name}: done (load ${result.load})${result.rollout === undefined ? '' : `; ${result.rollout}`}${result.own === undefined ? '' : `\n# ${result.own}`}\n${printCounts([result])}\n\n${printFigures([result])}\n\n`,
      );
    }
    process.stdout.write(`\n${printCounts(results)}\n\n${printFigures(results)}\n\n${printTargets(results)}\n`);
    process.stdout.write(`\nload average at the end ${load()}; ${((Date.now() - started) / 60_000).toFixed(1)} min in all\n`);
  } finally {
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:cluster failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
