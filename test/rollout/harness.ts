// What the rollout controller's tests share: the controller through client-node against an API
// server over HTTP that applies merge and JSON patches as the real one does
// (test/helpers/fake-controller-api.ts), the real index of injected pods fed the pods' metadata,
// and the test in the workload controllers' place: after a restart it writes the Deployment's
// status and replaces its pods with ones that record the hash they were injected with. Clocks
// are the tests' own; nothing waits on time.
import { Writable } from 'node:stream';
import { KubeConfig } from '#kube';
import { pino } from 'pino';
import type { Test } from 'tap';
import { templateOfObject } from '../../src/catalog/live.js';
import { validateTemplate } from '../../src/catalog/validate.js';
import { kubeEventWriter } from '../../src/events/kube-writer.js';
import { EventRecorder } from '../../src/events/recorder.js';
import { InjectedPodIndex } from '../../src/impact/pod-index.js';
import { revisionObject } from '../../src/impact/revisions.js';
import { RolloutController } from '../../src/rollout/controller.js';
import { PROMOTED_LABEL, readRolloutStatus } from '../../src/rollout/plan.js';
import { kubeRolloutApi } from '../../src/rollout/rollout-kube.js';
import { run as rollout } from '../../src/cli/rollout.js';
import { runCaptured } from '../helpers/cli.js';
import { startControllerApi, type ControllerApi } from '../helpers/fake-controller-api.js';

export type Json = any;
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const NAME = 'edge-proxy';

export function templateSpec(image: string, rollout: Json): Json {
  return { pattern: 'sidecar', description: 'A proxy in front of the app.', containers: [{ name: 'proxy', image }], rollout };
}

export function hashOf(spec: Json): string {
  const verdict = validateTemplate(
    templateOfObject({ apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: NAME }, spec }),
    'cluster',
    NAME,
  );
  if (!verdict.ok) throw new Error(verdict.problems.join('; '));
  return verdict.template.hash;
}

export function revisionOf(spec: Json, revision: number, promoted: boolean): Json {
  const verdict = validateTemplate(
    templateOfObject({ apiVersion: 'podpattern.dev/v1alpha1', kind: 'PatternTemplate', metadata: { name: NAME }, spec }),
    'cluster',
    NAME,
  );
  if (!verdict.ok) throw new Error(verdict.problems.join('; '));
  const object = revisionObject(verdict.template, { uid: `uid-${NAME}` }, 'podpattern', revision);
  if (promoted) object.metadata.labels[PROMOTED_LABEL] = 'true';
  return object;
}

export interface Harness {
  api: ControllerApi;
  index: InjectedPodIndex;
  pass(): Promise<Awaited<ReturnType<RolloutController['pass']>>>;
  /** A new controller, as a new leader starts with: nothing in memory. */
  newLeader(): void;
  advance(ms: number): void;
  now(): number;
  results: string[];
  paused: Map<string, boolean>;
  cli(args: string[]): Promise<{ code: number; out: string; err: string }>;
}

export async function setup(
  t: Test,
  namespaces: Record<string, Record<string, string>>,
  served?: (template: string, canary: boolean) => string | undefined,
): Promise<Harness> {
  const api = await startControllerApi();
  t.teardown(() => api.close());
  const config = new KubeConfig();
  config.loadFromFile(api.kubeconfig);
  for (const [name, labels] of Object.entries(namespaces)) api.namespaces.push({ metadata: { name, labels } });
  const index = new InjectedPodIndex();
  index.synced = true;
  let now = T0;
  const logger = pino(
    new Writable({
      write(_chunk, _e, done) {
        done();
      },
    }),
  );
  const events = new EventRecorder({ writer: kubeEventWriter(config, 'podpattern-0'), logger, now: () => now });
  const results: string[] = [];
  let paused = new Map<string, boolean>();
  const make = () =>
    new RolloutController({
      api: kubeRolloutApi(config, 'podpattern'),
      usages: (name) => (index.synced ? index.usages(name) : undefined),
      events,
      logger,
      now: () => now,
      ...(served === undefined ? {} : { served }),
      metrics: { restarted: (result) => results.push(result), paused: (states) => (paused = new Map(states)) },
    });
  let controller = make();
  return {
    api,
    index,
    results,
    get paused() {
      return paused;
    },
    async pass() {
      const result = await controller.pass();
      await events.idle();
      return result;
    },
    newLeader: () => (controller = make()),
    advance: (ms) => (now += ms),
    now: () => now,
    cli: (args) => runCaptured(rollout, [...args, '--kubeconfig', api.kubeconfig]),
  };
}

/**
 * Namespaces a and b, each with Deployment web on revision proxy:1 of the template, whose next
 * revision proxy:2 (with these rollout settings) is the one to roll out: a restart in each
 * namespace, one at a time. `current` is that revision's hash.
 */
export async function outdatedInTwoNamespaces(t: Test, rollout: Json): Promise<{ h: Harness; current: string }> {
  const h = await setup(t, { a: {}, b: {} });
  addTemplate(h, ['proxy:1', 'proxy:2'], rollout, 2);
  const [old, current] = [hashOf(templateSpec('proxy:1', rollout)), hashOf(templateSpec('proxy:2', rollout))];
  addDeployment(h, 'a', 'web', old);
  addDeployment(h, 'b', 'web', old);
  return { h, current };
}

/** The cluster template, at `image`, with its revisions (the first promoted). */
export function addTemplate(h: Harness, images: string[], rollout: Json, promoted = 1): Json {
  const object = {
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: NAME, uid: `uid-${NAME}`, generation: images.length, resourceVersion: '7', annotations: {} },
    spec: templateSpec(images.at(-1)!, rollout),
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Valid',
          message: 'the template is valid and in force',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    },
  };
  h.api.templates.push(object);
  images.forEach((image, i) => h.api.revisions.push(revisionOf(templateSpec(image, rollout), i + 1, i + 1 <= promoted)));
  return object;
}

/** A 3-replica Deployment whose pods run `hash` of the template, rolled out. */
export function addDeployment(h: Harness, namespace: string, name: string, hash: string): void {
  h.api.objects.set(`Deployment/${namespace}/${name}`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, generation: 1, resourceVersion: '5', annotations: {} },
    spec: { replicas: 3, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name }, annotations: {} } } },
    status: { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 },
  });
  setPods(h, { namespace, name }, hash, 1);
}

/** The Deployment's pods become 3 pods of ReplicaSet `<name>-<rs>` that record `hash`; the index sees them. */
export function setPods(
  h: Harness,
  at: { namespace: string; name: string },
  hash: string,
  rs: number,
  proxyRestarts: number[] = [0, 0, 0],
): void {
  const { namespace, name } = at;
  for (const old of h.api.pods.filter((p) => p.metadata.namespace === namespace && p.metadata.labels?.app === name))
    h.index.remove(old.metadata);
  h.api.pods = h.api.pods.filter((p) => !(p.metadata.namespace === namespace && p.metadata.labels?.app === name));
  const set = `${name}-${rs}`;
  h.api.objects.set(`ReplicaSet/${namespace}/${set}`, {
    metadata: {
      name: set,
      namespace,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: `uid-${namespace}-${name}`, controller: true }],
    },
  });
  for (let i = 0; i < 3; i += 1) {
    const pod = {
      metadata: {
        name: `${set}-${i}`,
        namespace,
        uid: `uid-${set}-${i}`,
        labels: { app: name, 'podpattern.dev/injected': 'true' },
        annotations: {
          'podpattern.dev/sidecar': NAME,
          'podpattern.dev/status': JSON.stringify({ templates: [{ name: NAME, hash }], containers: ['proxy'], initContainers: [] }),
        },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: set, uid: `uid-${set}`, controller: true }],
      },
      status: {
        phase: 'Running',
        containerStatuses: [
          { name: 'app', restartCount: 0 },
          { name: 'proxy', restartCount: proxyRestarts[i] ?? 0 },
        ],
      },
    };
    h.api.pods.push(pod);
    h.index.upsert(pod.metadata);
  }
}

/** What the Deployment controller and the webhook do after a restart: the new pods record `hash`, the status says rolled out. */
export function rollOut(h: Harness, namespace: string, name: string, hash: string, proxyRestarts: number[] = [0, 0, 0]): void {
  const stored = h.api.objects.get(`Deployment/${namespace}/${name}`);
  stored.status = {
    observedGeneration: stored.metadata.generation,
    replicas: 3,
    updatedReplicas: 3,
    readyReplicas: 3,
    availableReplicas: 3,
  };
  setPods(h, { namespace, name }, hash, stored.metadata.generation, proxyRestarts);
}

export const restartedAt = (h: Harness, namespace: string, name: string): string | undefined =>
  h.api.objects.get(`Deployment/${namespace}/${name}`).spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'];
export const stored = (h: Harness): Json => h.api.templates.find((o) => o.metadata.name === NAME);
export const rolloutOf = (h: Harness) => readRolloutStatus(stored(h).status?.rollout);
export const pausedCondition = (h: Harness): Json => stored(h).status?.conditions?.find((c: Json) => c.type === 'RolloutPaused');
