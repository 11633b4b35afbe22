// The rollout controller's pure parts: spec.rollout's defaults and bounds, the status record read
// back (tolerant of what someone else wrote), the bound on it, the health gate's verdicts as
// kubectl rollout status gives them, and the injected containers' restarts.
import t from 'tap';
import { selectorString } from '../../src/rollout/rollout-kube.js';
import {
  MAX_RESTARTED,
  injectedRestarts,
  notRolled,
  oneLine,
  readRolloutStatus,
  rolloutProgress,
  rolloutSettings,
  trimRestarted,
  type RestartEntry,
  type WorkloadState,
} from '../../src/rollout/plan.js';

t.test('spec.rollout: the defaults the CRD documents, values out of bounds brought within them', async (t) => {
  t.same(rolloutSettings(undefined), {
    restart: 'manual',
    canary: undefined,
    maxConcurrent: 1,
    healthTimeoutMs: 600_000,
    maxInjectedRestarts: 0,
  });
  t.same(rolloutSettings({ restart: 'auto', canary: { namespaceSelector: { matchLabels: { a: 'b' } } } }).canary, {
    namespaceSelector: { matchLabels: { a: 'b' } },
    soakMs: 600_000,
  });
  const wild = rolloutSettings({
    restart: 'sometimes',
    maxConcurrent: 1e9,
    healthTimeoutSeconds: 1,
    maxInjectedRestarts: -5,
    canary: { namespaceSelector: 'x' },
  });
  t.same(wild, { restart: 'manual', canary: undefined, maxConcurrent: 50, healthTimeoutMs: 30_000, maxInjectedRestarts: 0 });
  t.equal(rolloutSettings({ maxConcurrent: Number.NaN }).maxConcurrent, 1);
  t.equal(rolloutSettings({ maxConcurrent: 2.7 }).maxConcurrent, 2);
});

t.test('status.rollout read back: what does not fit is dropped, never trusted', async (t) => {
  t.equal(readRolloutStatus(undefined), undefined);
  t.equal(readRolloutStatus({ revision: 'abc', phase: 'Exploding' }), undefined);
  const read = readRolloutStatus({
    revision: 'abc',
    phase: 'Progressing',
    since: 'not a date',
    soakSince: 42,
    message: 'x'.repeat(5000),
    restarted: [
      { kind: 'Deployment', namespace: 'a', name: 'web', hash: 'abc', at: '2026-01-01T00:00:00.000Z', result: 'passed' },
      { kind: 'Deployment', namespace: 'a', name: 'x', hash: 'abc', at: 'yesterday', result: 'passed' },
      'junk',
      null,
      { result: 'won' },
    ],
  });
  t.same(read, {
    revision: 'abc',
    phase: 'Progressing',
    since: '1970-01-01T00:00:00.000Z',
    restarted: [{ kind: 'Deployment', namespace: 'a', name: 'web', hash: 'abc', at: '2026-01-01T00:00:00.000Z', result: 'passed' }],
    message: '',
  });
});

t.test('the record is bounded: restarts in flight always kept, then the newest finished', async (t) => {
  const at = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  const entries: RestartEntry[] = Array.from({ length: 60 }, (_, i) => ({
    kind: 'Deployment',
    namespace: 'a',
    name: `w${i}`,
    hash: 'h',
    at: at(i),
    result: i % 20 === 0 ? 'restarting' : 'passed',
  }));
  const kept = trimRestarted(entries);
  t.equal(kept.length, MAX_RESTARTED);
  t.ok(
    kept.some((e) => e.name === 'w0'),
    'the oldest, in flight, kept',
  );
  t.notOk(
    kept.some((e) => e.name === 'w1'),
    'the oldest finished dropped',
  );
  t.ok(kept.some((e) => e.name === 'w59'));
});

t.test('one line, bounded', async (t) => {
  t.equal(oneLine('a\nb\t c  '), 'a b c');
  t.equal(oneLine('x'.repeat(600)).length, 512);
});

const deployment = (spec: WorkloadState['spec'], status: WorkloadState['status'], generation = 2): WorkloadState => ({
  kind: 'Deployment',
  uid: 'u',
  generation,
  resourceVersion: '1',
  selector: 'app=web',
  spec,
  status,
});

t.test('Deployments judged as kubectl rollout status judges them', async (t) => {
  t.match(rolloutProgress(deployment({ replicas: 3 }, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 })), {
    state: 'waiting',
    why: /see the restart/,
  });
  t.match(rolloutProgress(deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 })), {
    state: 'waiting',
    why: '1 of 3 new replicas have been updated',
  });
  t.match(rolloutProgress(deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 })), {
    state: 'waiting',
    why: '1 old replicas are pending termination',
  });
  t.match(rolloutProgress(deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 })), {
    state: 'waiting',
    why: '2 of 3 updated replicas are available',
  });
  t.same(rolloutProgress(deployment({ replicas: 3 }, { observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 })), {
    state: 'done',
  });
  t.match(
    rolloutProgress(
      deployment(
        { replicas: 3 },
        {
          observedGeneration: 2,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "web-2" has timed out progressing.',
            },
          ],
        },
      ),
    ),
    { state: 'failed', why: /progress deadline.*timed out/ },
  );
});

t.test('StatefulSets and DaemonSets judged as kubectl rollout status judges them; OnDelete is not rolled by a restart', async (t) => {
  const sts = (spec: WorkloadState['spec'], status: WorkloadState['status']): WorkloadState => ({
    ...deployment(spec, status),
    kind: 'StatefulSet',
  });
  t.match(rolloutProgress(sts({ replicas: 3 }, { observedGeneration: 2, readyReplicas: 2 })), {
    state: 'waiting',
    why: '2 of 3 pods are ready',
  });
  t.match(
    rolloutProgress(
      sts({ replicas: 3 }, { observedGeneration: 2, readyReplicas: 3, currentRevision: 'a', updateRevision: 'b', updatedReplicas: 1 }),
    ),
    { state: 'waiting' },
  );
  t.same(rolloutProgress(sts({ replicas: 3 }, { observedGeneration: 2, readyReplicas: 3, currentRevision: 'b', updateRevision: 'b' })), {
    state: 'done',
  });
  t.same(
    rolloutProgress(
      sts(
        { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } },
        { observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1, currentRevision: 'a', updateRevision: 'b' },
      ),
    ),
    { state: 'done' },
    'partitioned: the pods above the partition are enough',
  );
  t.match(notRolled(sts({ updateStrategy: { type: 'OnDelete' } }, {})), /OnDelete/);
  t.equal(notRolled(sts({}, {})), undefined, 'RollingUpdate by default');
  const ds = (status: WorkloadState['status']): WorkloadState => ({ ...deployment({}, status), kind: 'DaemonSet' });
  t.match(rolloutProgress(ds({ observedGeneration: 2, desiredNumberScheduled: 4, updatedNumberScheduled: 3, numberAvailable: 4 })), {
    state: 'waiting',
    why: '3 of 4 updated pods have been scheduled',
  });
  t.match(rolloutProgress(ds({ observedGeneration: 2, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 3 })), {
    state: 'waiting',
  });
  t.same(rolloutProgress(ds({ observedGeneration: 2, desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4 })), {
    state: 'done',
  });
});

t.test(
  'restarts counted only for the injected containers of the pods that record the hash and are not being deleted; the others counted',
  async (t) => {
    const status = (hash: string) =>
      JSON.stringify({ templates: [{ name: 'proxy', hash }], containers: ['proxy'], initContainers: ['agent'] });
    const pods = [
      {
        name: 'new-1',
        terminating: false,
        annotations: { 'podpattern.dev/status': status('h2') },
        restarts: [
          { name: 'app', restartCount: 9 },
          { name: 'proxy', restartCount: 1 },
          { name: 'agent', restartCount: 2 },
        ],
      },
      {
        name: 'old-1',
        terminating: false,
        annotations: { 'podpattern.dev/status': status('h1') },
        restarts: [{ name: 'proxy', restartCount: 7 }],
      },
      {
        name: 'going',
        terminating: true,
        annotations: { 'podpattern.dev/status': status('h2') },
        restarts: [{ name: 'proxy', restartCount: 5 }],
      },
      {
        name: 'forged',
        terminating: false,
        annotations: { 'podpattern.dev/status': 'not json' },
        restarts: [{ name: 'proxy', restartCount: 7 }],
      },
    ];
    t.same(injectedRestarts(pods, 'proxy', 'h2'), { pods: 1, others: 1, restarts: 3, worst: 'new-1/agent restarted 2 times' });
  },
);

t.test('a workload selector as the label selector string a list takes', async (t) => {
  t.equal(selectorString({ matchLabels: { app: 'web', tier: 'front' } }), 'app=web,tier=front');
  t.equal(
    selectorString({
      matchExpressions: [
        { key: 'a', operator: 'In', values: ['x', 'y'] },
        { key: 'b', operator: 'NotIn', values: ['z'] },
        { key: 'c', operator: 'Exists' },
        { key: 'd', operator: 'DoesNotExist' },
      ],
    }),
    'a in (x,y),b notin (z),c,!d',
  );
  t.equal(selectorString({}), undefined, 'an empty selector selects no pod here, never all');
  t.equal(selectorString({ matchExpressions: [{ key: 'a', operator: 'Near' }] }), undefined);
});
