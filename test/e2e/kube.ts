// Small helpers the e2e tests share: kubectl that throws with the whole story, waiting on a
// condition with a bound, namespaces and pods, podpattern's install, its metrics and logs.
import type { Release } from './release.js';
import type { Cluster, RunResult } from './harness.js';
import { describe, namespaceManifest, parseYaml, type Json } from './pods.js';
import { eventually } from '../helpers/eventually.js';

export const RELEASE = 'podpattern';
export const RELEASE_NAMESPACE = 'podpattern';

export class Kube {
  private sequence = 0;

  constructor(readonly cluster: Cluster) {}

  kubectl(args: readonly string[], input?: string): Promise<RunResult> {
    return this.cluster.kubectl(args, input);
  }

  async must(args: readonly string[], input?: string): Promise<string> {
    const result = await this.cluster.kubectl(args, input);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${describe(result)}`);
    return result.stdout;
  }

  async json(args: readonly string[]): Promise<Json> {
    return JSON.parse(await this.must([...args, '-o', 'json'])) as Json;
  }

  unique(prefix: string): string {
    this.sequence += 1;
    return `${prefix}-${this.sequence}`;
  }

  /** A namespace with its `default` ServiceAccount (pods are refused until the controller made it). */
  async namespace(
    injection?: 'enabled' | 'required',
    extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
  ): Promise<string> {
    const name = this.unique(injection ?? 'plain');
    const manifest = namespaceManifest(name, injection);
    Object.assign(manifest.metadata.labels, extra.labels ?? {});
    if (extra.annotations !== undefined) manifest.metadata.annotations = extra.annotations;
    await this.must(['create', '-f', '-'], JSON.stringify(manifest));
    await eventually(
      `the default ServiceAccount of ${name}`,
      async () => ((await this.kubectl(['get', 'serviceaccount', 'default', '-n', name])).code === 0 ? true : undefined),
      60_000,
    );
    return name;
  }

  /** kubectl create; the stored object when it was admitted. */
  async create(object: Json, extraArgs: string[] = []): Promise<RunResult & { object?: Json }> {
    const result = await this.kubectl(['create', '-f', '-', '-o', 'json', ...extraArgs], JSON.stringify(object));
    return result.code === 0 ? { ...result, object: JSON.parse(result.stdout) as Json } : result;
  }

  async pod(namespace: string, name: string): Promise<Json> {
    return parseYaml(await this.must(['get', 'pod', name, '-n', namespace, '-o', 'yaml']));
  }

  async pods(namespace: string, selector?: string): Promise<Json[]> {
    return (await this.json(['get', 'pods', '-n', namespace, ...(selector === undefined ? [] : ['-l', selector])])).items as Json[];
  }

  /** The Events of `reason` about one object (a cluster-scoped object's are in default). */
  async events(namespace: string, kind: string, name: string, reason: string): Promise<Json[]> {
    return (
      await this.json([
        'get',
        'events',
        '-n',
        namespace,
        '--field-selector',
        `involvedObject.kind=${kind},involvedObject.name=${name},reason=${reason}`,
      ])
    ).items as Json[];
  }

  /** podpattern's running pods (the node agent runs them), with their pod IPs. */
  async webhookPods(): Promise<Json[]> {
    return (await this.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern')).filter(
      (p) => p.metadata.deletionTimestamp === undefined,
    );
  }

  /** The sum of a counter over podpattern's pods, read from each pod's /metrics at its pod IP. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0;
    for (const pod of await this.webhookPods()) {
      if (pod.status?.podIP === undefined) continue;
      const text = await (await fetch(`http://${pod.status.podIP}:8080/metrics`)).text();
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
      }
    }
    return sum;
  }

  /** Everything podpattern's pods have logged, all replicas. */
  async webhookLogs(): Promise<string> {
    const pods = await this.pods(RELEASE_NAMESPACE, 'app.kubernetes.io/name=podpattern');
    return pods.map((pod) => this.cluster.node.logs(RELEASE_NAMESPACE, pod.metadata.name, 'podpattern')).join('\n');
  }

  helm(args: readonly string[]): Promise<RunResult> {
    return this.cluster.helm(args);
  }

  /** The release installed last (the cluster's own until an upgrade moves to another). */
  private installed: Release | undefined;

  /**
   * helm install/upgrade of the chart as a user gets it, from the run's OCI registry
   * (`oci://…/charts/podpattern --version …`), waiting until podpattern's pods are ready; the
   * release installed last (else the cluster's) unless another is given.
   */
  async helmInstall(
    verb: 'install' | 'upgrade',
    values: string[] = [],
    release: Release = this.installed ?? this.cluster.release,
  ): Promise<RunResult> {
    const result = await this.helm([
      verb,
      RELEASE,
      release.chart,
      '--version',
      release.version,
      '--plain-http',
      '--namespace',
      RELEASE_NAMESPACE,
      ...(verb === 'install' ? ['--create-namespace'] : []),
      '--wait',
      '--timeout',
      '5m',
      ...values.flatMap((v) => ['--set', v]),
    ]);
    if (result.code === 0) this.installed = release;
    return result;
  }

  /**
   * Until the Service's endpoints hold `count` ready pod addresses, in both the EndpointSlices
   * (what kube-apiserver 1.33 and later resolve a webhook Service with) and the Endpoints
   * object (what earlier releases use).
   */
  async webhookEndpoints(count: number): Promise<string[]> {
    return eventually(
      `${count} ready endpoints of the podpattern Service`,
      async () => {
        const slices = (await this.json(['get', 'endpointslices', '-n', RELEASE_NAMESPACE, '-l', `kubernetes.io/service-name=${RELEASE}`]))
          .items as Json[];
        const ready = slices.flatMap((s) =>
          (s.endpoints ?? []).filter((e: Json) => e.conditions?.ready !== false).flatMap((e: Json) => e.addresses as string[]),
        );
        const endpoints = await this.kubectl(['get', 'endpoints', RELEASE, '-n', RELEASE_NAMESPACE, '-o', 'json']);
        const subsets = endpoints.code === 0 ? (((JSON.parse(endpoints.stdout) as Json).subsets ?? []) as Json[]) : [];
        const addresses = subsets.flatMap((s) => (s.addresses ?? []).map((a: Json) => a.ip as string));
        return ready.length === count && addresses.length === count ? ready.sort() : undefined;
      },
      120_000,
    );
  }
}

export { eventually };
