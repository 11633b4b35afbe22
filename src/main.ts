// Composition root of `podpattern serve`: config -> logger -> metrics -> certificates -> catalog
// -> servers, then signals. Everything is made here and passed down; nothing below reads the
// environment or builds a singleton.
import type { Server as HttpsServer } from 'node:https';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadStaticLayers, type ParsedTemplates } from './catalog/index.js';
import type { ClusterWatch } from './catalog/cluster.js';
import type { ClusterImpact } from './impact/cluster.js';
import type { Controllers } from './leader/controllers.js';
import { LiveCatalog } from './catalog/live.js';
import type { KubeConfig } from '#kube';
import type { Catalog } from './model/template.js';
import { OLDEST_SUPPORTED, formatVersion, type ServerVersion } from './model/server-version.js';
import { ensureCertificateFiles } from './certs/dev.js';
import { CertificateReloader } from './certs/reloader.js';
import { readServeConfig, type ServeConfig } from './config.js';
import { inject } from './engine/index.js';
import { servedHash, stageCatalog } from './impact/staged.js';
import { createMetrics, sourceLabel, type Metrics } from './metrics/index.js';
import { buildApp } from './server/app.js';
import { buildHealthApp } from './server/health.js';
import { Lifecycle } from './server/lifecycle.js';
import { Connections, defaultMaxConnections } from './server/connections.js';
import { checkHeap, containerMemoryLimit } from './server/heap.js';
import { MemoryTrim, loadMallocTrim } from './server/memory-trim.js';
import { EventRecorder } from './events/recorder.js';
import { buildInfo } from './version/index.js';

/**
 * How long in-flight reviews get to finish once the drain window is over. A review is decided
 * in milliseconds; this covers one whose body is still arriving. Then the connections whose
 * bodies are still arriving end, and the rest get CLOSE_LAST_MS more (room for the quiet sweep
 * below, and for a review sent a moment before the listener closed): shutdown ends within
 * drain-seconds plus 4.5 s, whatever the clients do.
 */
const CLOSE_GRACE_MS = 3_000;
const CLOSE_LAST_MS = 1_500;
/**
 * At close, a connection with no request in flight ends once it has been quiet this long. A
 * client that connected a moment ago is most likely still in its TLS handshake or sending its
 * review: ended at once, its review was reset (8 of 2,492 in a drain beside hostile
 * connections). Given the moment, it sends its review and is answered (503 with
 * Connection: close, as the listener is closing). Checked every CLOSE_SWEEP_MS until the
 * in-flight reviews are done.
 */
const CLOSE_QUIET_MS = 1_000;
const CLOSE_SWEEP_MS = 100;

export async function run(argv: string[]): Promise<number> {
  const parsed = readServeConfig(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    const list = parsed.problems.map((problem) => `  - ${problem}\n`).join('');
    process.stderr.write(
      `podpattern serve: ${parsed.problems.length} problem(s) with the settings:\n${list}'podpattern serve --help' lists every flag.\n`,
    );
    return 2;
  }
  const config = parsed.config;
  // pino's default destination: stdout, each line written as it is logged, nothing pending at exit.
  const logger = pino({ name: 'podpattern', level: config.logLevel, timestamp: pino.stdTimeFunctions.isoTime });
  try {
    return await serve(config, logger);
  } catch (error) {
    logger.fatal({ reason: (error as Error).message }, 'podpattern serve cannot start');
    return 1;
  }
}

async function serve(config: ServeConfig, logger: Logger): Promise<number> {
  warnIfHeapDoesNotFit(logger);
  const metrics = createMetrics({ build: buildInfo() });
  const certificates = await loadCertificates(config, logger, metrics);
  const live = new LiveCatalog({
    base: loadCatalogLayers(config, logger, metrics),
    onSwap: (catalog) => {
      logger.info(
        { templates: catalog.list().map((t) => `${t.name} (${t.source})`), refused: catalog.failures().map((f) => f.name) },
        'catalog swapped in',
      );
      cluster?.watch.catalogChanged();
    },
  });
  const cluster = await connectCluster(config, logger, metrics, live);
  const assumedVersion = cluster === undefined ? assumeOldestSupported(config, logger) : undefined;

  const lifecycle = new Lifecycle();
  const pair = certificates.pair!;
  const app = buildApp({
    logger,
    metrics,
    lifecycle,
    inject,
    catalog: () => live.current(),
    nativeSidecars: config.nativeSidecars,
    serverVersion: () => cluster?.version ?? assumedVersion,
    ...(cluster === undefined ? {} : clusterAppOptions(cluster)),
    failureMode: config.failureMode,
    clientAuth: config.clientAuth,
    tls: { cert: pair.certPem, key: pair.keyPem, ...(pair.clientCaPem === undefined ? {} : { clientCa: pair.clientCaPem }) },
    limits: { readTimeoutMs: config.readTimeoutSeconds * 1000 },
  });
  certificates.attach(app.server as unknown as HttpsServer); // buildApp made it HTTPS: tls was given
  app.server.on('secureConnection', () => metrics.tlsHandshakes.inc());
  const readiness = () => ({
    certificate: certificates.isReady(),
    // The served revisions are part of the catalog: without them a template in canary could not be served outside its canary.
    catalog: cluster === undefined || (cluster.watch.ready && cluster.impact.served.sync.synced),
    notDraining: !lifecycle.draining,
  });
  const health = buildHealthApp({ logger, metrics, readiness });

  const limits = {
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    closeQuietMs: CLOSE_QUIET_MS,
    maxConnections: config.maxConnections === 0 ? defaultMaxConnections(containerMemoryLimit()) : config.maxConnections,
  };
  const connections = [new Connections(app.server, limits), new Connections(health.server, limits)];
  await listenBoth(config, app, health);
  certificates.start();
  cluster?.events.start();
  void cluster?.start();
  const controllers =
    cluster === undefined || config.controllers === 'off'
      ? undefined
      : await cluster.controllers(() => Object.values(readiness()).every(Boolean));
  controllers?.start();
  const memoryTrim = startMemoryTrim(config, metrics);
  logger.info(
    {
      port: portOf(app),
      healthPort: portOf(health),
      host: config.host,
      failureMode: config.failureMode,
      nativeSidecars: config.nativeSidecars,
      templates: live.current().list().length,
      liveCatalog: cluster !== undefined,
      maxConnections: limits.maxConnections,
      memoryTrim,
    },
    'podpattern serving',
  );

  const parent = config.exitWithParent === 'on' ? watchParent() : undefined;
  const signal = await Promise.race([nextSignal(['SIGTERM', 'SIGINT']), ...(parent === undefined ? [] : [parent.gone])]);
  parent?.stop();
  // First, so the Lease is given up and another replica takes the controllers over at once.
  await controllers?.stop();
  await cluster?.watch.stop();
  cluster?.impact.stop();
  const code = await drainAndClose(signal, config, logger, { lifecycle, certificates, apps: [app, health], connections });
  await cluster?.events.stop();
  return code;
}

/**
 * Trims the C heap on its timer, when the addon is there and the interval is not 0, until the
 * process exits (the timer holds nothing open); says which, for the serving line.
 */
function startMemoryTrim(config: ServeConfig, metrics: Metrics): string {
  if (config.memoryTrimSeconds === 0) return 'off (--memory-trim-seconds=0)';
  const loaded = loadMallocTrim();
  if ('unavailable' in loaded) return `unavailable: ${loaded.unavailable}`;
  new MemoryTrim({
    trimmer: loaded.trimmer,
    everyMs: config.memoryTrimSeconds * 1000,
    onTrim: (released) => metrics.memoryTrims.inc({ released: String(released) }),
  }).start();
  return `every ${config.memoryTrimSeconds} s`;
}

function warnIfHeapDoesNotFit(logger: Logger): void {
  const heap = checkHeap();
  if (heap === undefined || heap.fits) return;
  logger.warn(
    { memoryLimitMiB: Math.round(heap.limitBytes / 1048576), heapLimitMiB: heap.heapLimitMiB },
    `the V8 heap limit does not fit the container's memory limit; start node with --max-old-space-size=${heap.suggestedMiB} (NODE_OPTIONS), as the chart does`,
  );
}

/** What the admission routes read from the cluster: namespaces, policies, Events, the impact check. */
function clusterAppOptions(cluster: Cluster) {
  return {
    namespaceAnnotations: (namespace: string) => cluster.watch.namespaceAnnotations(namespace),
    limitRanges: (namespace: string) => cluster.watch.limitRanges(namespace),
    namespaceLabels: (namespace: string) => cluster.watch.namespaceLabels(namespace),
    policy: (namespace: string) => cluster.watch.policy(namespace),
    stage: (catalog: Catalog, namespace: string | undefined) =>
      stageCatalog(
        catalog,
        cluster.impact.served.revisions,
        namespace,
        namespace === undefined ? undefined : cluster.watch.namespaceLabels(namespace),
      ),
    events: cluster.events,
    templateImpact: cluster.impact.deps,
  };
}

/**
 * Nothing half-started: a webhook without its health port (or the reverse) would serve
 * without probes, certificate reloads or a drain. Closes what did start, and fails.
 */
async function listenBoth(config: ServeConfig, app: FastifyInstance, health: FastifyInstance): Promise<void> {
  try {
    await app.listen({ host: config.host, port: config.port });
    await health.listen({ host: config.host, port: config.healthPort });
  } catch (error) {
    await Promise.allSettled([app.close(), health.close()]);
    throw new Error(`cannot listen (${(error as Error).message}): free the port or choose another with --port / --health-port`);
  }
}

async function loadCertificates(config: ServeConfig, logger: Logger, metrics: Metrics): Promise<CertificateReloader> {
  await ensureCertificateFiles({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, areDefault: config.tlsFilesAreDefault }, logger);
  const reloader = new CertificateReloader({
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    ...(config.clientCaFile === undefined ? {} : { clientCaFile: config.clientCaFile }),
    logger,
    checkIntervalMs: config.certCheckSeconds * 1000,
    onLoaded: (pair) => metrics.certificateExpiry.set(pair.notAfter.getTime() / 1000),
  });
  const pair = await reloader.load();
  logger.info(
    { subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString(), clientAuth: config.clientAuth },
    'TLS certificate loaded',
  );
  return reloader;
}

/** Built-in templates, then --catalog-dir's (which override by name). Refused templates are logged and counted. */
function loadCatalogLayers(config: ServeConfig, logger: Logger, metrics: Metrics): ParsedTemplates[] {
  const layers = loadStaticLayers(config.catalogDir);
  for (const failure of layers.flatMap((layer) => layer.failures)) {
    logger.error({ template: failure.name, source: failure.source, problems: failure.problems }, 'template refused');
    metrics.catalogLoadErrors.inc({ source: sourceLabel(failure.source) });
  }
  return layers;
}

/**
 * Without a cluster there is no version to read: assume the oldest Kubernetes the chart installs
 * on, as `podpattern inject` does, so `npm start` and the CLI give the same pod (native
 * sidecars, run-to-completion pods injected, not refused).
 */
function assumeOldestSupported(config: ServeConfig, logger: Logger): ServerVersion {
  logger.info(
    { assumedServerVersion: formatVersion(OLDEST_SUPPORTED), nativeSidecars: config.nativeSidecars },
    `no cluster: assuming Kubernetes ${formatVersion(OLDEST_SUPPORTED)}, the oldest the chart installs on (so native sidecars under --native-sidecars=auto), as podpattern inject does`,
  );
  return OLDEST_SUPPORTED;
}

interface Cluster {
  watch: ClusterWatch;
  /** Events about injections and denials, written in the background. */
  events: EventRecorder;
  /** The API server's version once known (for --native-sidecars=auto). */
  version: ServerVersion | undefined;
  /** The index of injected pods, template revisions and the impact check of template changes. */
  impact: ClusterImpact;
  start(): Promise<void>;
  /** Healing and rollouts, run by the replica that holds the Lease (leader/controllers.ts). */
  controllers(ready: () => boolean): Promise<Controllers>;
}

/**
 * The live catalog, when credentials are found: informers on PatternTemplates and
 * Namespaces, and the API server's version. Without a cluster, undefined: the built-in and
 * --catalog-dir templates serve alone.
 */
async function connectCluster(config: ServeConfig, logger: Logger, metrics: Metrics, live: LiveCatalog): Promise<Cluster | undefined> {
  if (config.liveCatalog === 'off') return undefined;
  // Loaded only here: @kubernetes/client-node adds about 75 MB of resident memory, which a
  // server without the live catalog does not need to carry.
  const { detectServerVersion, fetchServerVersion, loadKubeConfig, watchCluster } = await import('./catalog/cluster.js');
  let kube: KubeConfig | undefined;
  try {
    kube = loadKubeConfig(config.kubeconfig);
  } catch (error) {
    throw new Error(`--kubeconfig ${config.kubeconfig ?? ''} cannot be loaded (${(error as Error).message})`);
  }
  if (kube === undefined) {
    logger.info('no cluster credentials found: serving the built-in and --catalog-dir templates only');
    return undefined;
  }
  const { clusterImpact } = await import('./impact/cluster.js');
  const impact = clusterImpact({
    config: kube,
    live,
    logger,
    inject,
    recordForced: (await import('./events/forced-change.js')).kubeForcedChangeRecorder(kube, hostname(), logger),
    // The engine options a pod of that namespace gets (review.ts's engineOptions): defaults and server version.
    namespaceLabels: () => watch.allNamespaceLabels(),
    options: (namespace) => ({
      nativeSidecars: config.nativeSidecars,
      namespace,
      namespaceAnnotations: watch.namespaceAnnotations(namespace),
      ...(cluster.version === undefined ? {} : { serverVersion: cluster.version }),
    }),
  });
  const watch = watchCluster({
    config: kube,
    live,
    logger,
    onInvalidTemplate: () => metrics.catalogLoadErrors.inc({ source: 'cluster' }),
    onTemplate: (object) => void impact.revisions.observe(object),
  });
  const cluster: Cluster = {
    watch,
    impact,
    // In a pod the hostname is the pod's name: the Event's reportingInstance.
    events: new EventRecorder({ writer: (await import('./events/kube-writer.js')).kubeEventWriter(kube, hostname()), logger }),
    version: undefined,
    async controllers(ready) {
      const { clusterControllers, nextPodDenial } = await import('./leader/controllers.js');
      const { podpatternNamespace } = await import('./impact/cluster.js');
      return clusterControllers(kube, podpatternNamespace(kube), {
        identity: hostname(),
        logger,
        metrics,
        events: cluster.events,
        ready,
        nextPodDenial: nextPodDenial({ inject, catalog: () => live.current(), options: (namespace) => impact.deps.options(namespace) }),
        settings: {
          healGraceSeconds: config.healGraceSeconds,
          healRestartsPerMinute: config.healRestartsPerMinute,
          healIntervalSeconds: config.healIntervalSeconds,
          rollout: config.rollout === 'on',
          rolloutIntervalSeconds: config.rolloutIntervalSeconds,
        },
        usages: (template) => (impact.index.synced ? impact.index.usages(template) : undefined),
        served: (template, canary) => {
          const current = live.current().get(template);
          return current === undefined ? undefined : servedHash(current, cluster.impact.served.revisions, canary);
        },
      });
    },
    async start() {
      logger.info({ server: kube.getCurrentCluster()?.server }, 'following PatternTemplates and namespace defaults in the cluster');
      void watch.start();
      impact.start();
      cluster.version = await detectServerVersion(() => fetchServerVersion(kube), logger);
    },
  };
  return cluster;
}

/**
 * SIGTERM: fail readiness at once so endpoints drop this pod, keep answering for the drain window
 * (with Connection: close, so clients move to other replicas), then stop accepting, let in-flight
 * reviews finish and return. A second signal ends the window early.
 */
async function drainAndClose(
  signal: string,
  config: ServeConfig,
  logger: Logger,
  {
    lifecycle,
    certificates,
    apps,
    connections,
  }: { lifecycle: Lifecycle; certificates: CertificateReloader; apps: FastifyInstance[]; connections: Connections[] },
): Promise<number> {
  lifecycle.startDraining();
  for (const c of connections) c.startDraining();
  logger.info({ signal, drainSeconds: config.drainSeconds }, 'draining: /readyz fails, reviews still served');
  await Promise.race([sleep(config.drainSeconds * 1000), nextSignal(['SIGTERM', 'SIGINT'])]);
  certificates.stop();
  logger.info('closing: no new connections; waiting for in-flight reviews');
  // Connections without a request in flight (idle, mid-handshake, half-sent headers) end once
  // quiet for CLOSE_QUIET_MS, if nothing came on them since the drain began (Connections'
  // closeQuiet): the listener is closed, so nothing more can come on them that a ready replica
  // cannot take. The first sweep comes before the listeners close, whose own sweep would
  // otherwise have ended them uncounted.
  const closeQuiet = (): number => connections.reduce((sum, c) => sum + c.closeQuiet(), 0);
  const idle = closeQuiet();
  const closing = Promise.all(apps.map((app) => app.close()));
  if (idle > 0) logger.info({ connections: idle }, 'closed connections with no request in flight');
  const sweep = setInterval(closeQuiet, CLOSE_SWEEP_MS);
  const overdue = (ms: number): Promise<'overdue'> => sleep(ms).then(() => 'overdue' as const);
  if ((await Promise.race([closing, overdue(CLOSE_GRACE_MS)])) === 'overdue') {
    // Requests still in flight now are bodies still arriving (an ordinary review is decided in
    // milliseconds): those connections end, and only those. Ending every connection here also
    // reset reviews on connections accepted just before the listener closed, still in their
    // TLS handshake or sending on a loaded machine (bench/drain-resets.ts: slow senders always
    // outlast the grace). The rest get CLOSE_LAST_MS more.
    const arriving = connections.reduce((sum, c) => sum + c.closeArriving(CLOSE_QUIET_MS), 0);
    logger.warn(
      { graceMs: CLOSE_GRACE_MS, connections: arriving },
      'in-flight requests did not finish; closing the connections whose bodies are still arriving',
    );
    if ((await Promise.race([closing, overdue(CLOSE_LAST_MS)])) === 'overdue') {
      logger.warn({ lastMs: CLOSE_LAST_MS }, 'connections still open; closing them all');
      for (const c of connections) c.closeAll();
    }
    await closing;
  }
  clearInterval(sweep);
  logger.info('stopped');
  return 0;
}

/**
 * npm does not pass SIGTERM on to the script it runs, so `kill <npm's pid>` would leave the
 * server running, holding its ports. With --exit-with-parent=on the server notices that its
 * parent is gone (it is re-parented: process.ppid changes) and shuts down as on SIGTERM.
 */
function watchParent(): { gone: Promise<string>; stop: () => void } {
  const parentPid = process.ppid;
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<string>((resolve) => {
    timer = setInterval(() => {
      if (process.ppid !== parentPid) resolve('parent-exited');
    }, 250);
    timer.unref();
  });
  return { gone, stop: () => clearInterval(timer) };
}

function nextSignal(signals: NodeJS.Signals[]): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.off(s, handler);
      resolve(signal);
    };
    for (const s of signals) process.on(s, handler);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function portOf(app: FastifyInstance): number | undefined {
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : undefined;
}
