// The plain-HTTP app for the kubelet and Prometheus: /healthz, /readyz, /metrics. Separate from
// the HTTPS app so probes need no certificate and a TLS problem cannot hide behind a probe.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/index.js';
import { errorBody, handleError } from './errors.js';

/** Named conditions that must all hold for /readyz to answer 200. */
export type ReadinessChecks = () => Record<string, boolean>;

export interface HealthDeps {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessChecks;
}

export function buildHealthApp(deps: HealthDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.setErrorHandler(handleError(deps.logger));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404);
    return errorBody('not-found', `no route ${request.method} ${request.url}: try /healthz, /readyz or /metrics`);
  });

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const checks = deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    void reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not ready', checks };
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  return app;
}
