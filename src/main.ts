// Composition root of `podpattern serve`: config -> logger -> metrics -> certificates -> catalog
// -> servers, then signals. Everything is made here and passed down; nothing below reads the
// environment or builds a singleton.
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadBuiltinTemplates, loadCatalogDir, buildCatalog, type Catalog, type ParsedTemplates } from './catalog/index.js';
import { ensureCertificateFiles } from './certs/dev.js';
import { CertificateReloader } from './certs/reloader.js';
import { readServeConfig, type ServeConfig } from './config.js';
import { memoizeInject } from './admission/memo.js';
import { inject } from './engine/index.js';
import { createMetrics, sourceLabel, type Metrics } from './metrics/index.js';
import { buildApp } from './server/app.js';
import { buildHealthApp } from './server/health.js';
import { Lifecycle } from './server/lifecycle.js';

/** How long in-flight requests get to finish once the drain window is over. */
const CLOSE_GRACE_MS = 10_000;

export async function run(argv: string[]): Promise<number> {
  const parsed = readServeConfig(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(parsed.text);
    return 0;
  }
  if (parsed.kind === 'error') {
    const list = parsed.problems.map((problem) => `  - ${problem}\n`).join('');
    process.stderr.write(`podpattern serve: ${parsed.problems.length} problem(s) with the settings:\n${list}'podpattern serve --help' lists every flag.\n`);
    return 2;
  }
  const config = parsed.config;
  const logger = pino({ name: 'podpattern', level: config.logLevel, timestamp: pino.stdTimeFunctions.isoTime });
  try {
    return await serve(config, logger);
  } catch (error) {
    logger.fatal({ reason: (error as Error).message }, 'podpattern serve cannot start');
    return 1;
  }
}

async function serve(config: ServeConfig, logger: Logger): Promise<number> {
  const metrics = createMetrics();
  const certificates = await loadCertificates(config, logger, metrics);
  const catalog = loadCatalog(config, logger, metrics);
  if (config.kubeconfig !== undefined) {
    logger.warn({ kubeconfig: config.kubeconfig }, 'the live cluster catalog is not part of this build; serving the built-in and --catalog-dir templates');
  }

  const lifecycle = new Lifecycle();
  const pair = certificates.pair!;
  const app = buildApp({
    logger, metrics, lifecycle,
    inject: memoizeInject(inject),
    catalog: () => catalog,
    nativeSidecars: config.nativeSidecars,
    failureMode: config.failureMode,
    tls: { cert: pair.certPem, key: pair.keyPem },
  });
  certificates.attach(app.server as unknown as HttpsServer); // buildApp made it HTTPS: tls was given
  const health = buildHealthApp({
    logger, metrics,
    readiness: () => ({ certificate: certificates.isReady(), catalog: true, notDraining: !lifecycle.draining }),
  });

  await app.listen({ host: config.host, port: config.port });
  await health.listen({ host: config.host, port: config.healthPort });
  certificates.start();
  logger.info(
    { port: portOf(app), healthPort: portOf(health), host: config.host, failureMode: config.failureMode, nativeSidecars: config.nativeSidecars, templates: catalog.list().length },
    'podpattern serving',
  );

  const signal = await nextSignal(['SIGTERM', 'SIGINT']);
  return drainAndClose(signal, config, logger, lifecycle, certificates, [app, health]);
}

async function loadCertificates(config: ServeConfig, logger: Logger, metrics: Metrics): Promise<CertificateReloader> {
  await ensureCertificateFiles({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, areDefault: config.tlsFilesAreDefault }, logger);
  const reloader = new CertificateReloader({
    certFile: config.tlsCertFile,
    keyFile: config.tlsKeyFile,
    logger,
    checkIntervalMs: config.certCheckSeconds * 1000,
    onLoaded: (pair) => metrics.certificateExpiry.set(pair.notAfter.getTime() / 1000),
  });
  const pair = await reloader.load();
  logger.info({ subject: pair.subject, fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() }, 'TLS certificate loaded');
  return reloader;
}

/** Built-in templates, then --catalog-dir's (which override by name). Refused templates are logged and counted. */
function loadCatalog(config: ServeConfig, logger: Logger, metrics: Metrics): Catalog {
  const layers: ParsedTemplates[] = [loadBuiltinTemplates()];
  if (config.catalogDir !== undefined) {
    try {
      layers.push(loadCatalogDir(config.catalogDir));
    } catch (error) {
      throw new Error(`--catalog-dir ${config.catalogDir} cannot be read (${(error as Error).message}): point it at a directory of PatternTemplate YAML/JSON files`);
    }
  }
  for (const failure of layers.flatMap((layer) => layer.failures)) {
    logger.error({ template: failure.name, source: failure.source, problems: failure.problems }, 'template refused');
    metrics.catalogLoadErrors.inc({ source: sourceLabel(failure.source) });
  }
  const catalog = buildCatalog(layers);
  logger.info({ templates: catalog.list().map((t) => `${t.name} (${t.source})`), refused: catalog.failures().length }, 'catalog loaded');
  return catalog;
}

/**
 * SIGTERM: fail readiness at once so endpoints drop this pod, keep answering for the drain window
 * (with Connection: close, so clients move to other replicas), then stop accepting, let in-flight
 * reviews finish and return. A second signal ends the window early.
 */
async function drainAndClose(
  signal: string, config: ServeConfig, logger: Logger, lifecycle: Lifecycle,
  certificates: CertificateReloader, apps: FastifyInstance[],
): Promise<number> {
  lifecycle.startDraining();
  logger.info({ signal, drainSeconds: config.drainSeconds }, 'draining: /readyz fails, reviews still served');
  await Promise.race([sleep(config.drainSeconds * 1000), nextSignal(['SIGTERM', 'SIGINT'])]);
  certificates.stop();
  logger.info('closing: no new connections; waiting for in-flight reviews');
  const closing = Promise.all(apps.map((app) => app.close()));
  const overdue = sleep(CLOSE_GRACE_MS).then(() => 'overdue' as const);
  if ((await Promise.race([closing, overdue])) === 'overdue') {
    logger.warn({ graceMs: CLOSE_GRACE_MS }, 'in-flight requests did not finish; closing their connections');
    for (const app of apps) app.server.closeAllConnections();
    await closing;
  }
  logger.info('stopped');
  return 0;
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
