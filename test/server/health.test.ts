// /healthz, /readyz and /metrics on the plain-HTTP app.
import t from 'tap';
import { buildHealthApp } from '../../src/server/health.js';
import { testDeps } from './fixtures.js';

t.test('healthz is always ok; readyz reports every check and fails on any', async (t) => {
  const deps = testDeps();
  const checks = { certificate: true, catalog: true, notDraining: true };
  const app = buildHealthApp({ logger: deps.logger, metrics: deps.metrics, readiness: () => ({ ...checks }) });
  t.teardown(() => app.close());

  t.same((await app.inject('/healthz')).json(), { status: 'ok' });
  let res = await app.inject('/readyz');
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ready', checks });
  for (const name of Object.keys(checks) as (keyof typeof checks)[]) {
    checks[name] = false;
    res = await app.inject('/readyz');
    t.equal(res.statusCode, 503, `not ready without ${name}`);
    t.equal(res.json().checks[name], false);
    checks[name] = true;
  }
  const missing = await app.inject('/nope');
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'not-found');
});

t.test('metrics: Prometheus text with every podpattern metric', async (t) => {
  const deps = testDeps();
  deps.metrics.certificateExpiry.set(1_900_000_000);
  deps.metrics.catalogLoadErrors.inc({ source: 'file' });
  const app = buildHealthApp({ logger: deps.logger, metrics: deps.metrics, readiness: () => ({}) });
  t.teardown(() => app.close());
  const res = await app.inject('/metrics');
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  for (const name of [
    'podpattern_reviews_total',
    'podpattern_injections_total',
    'podpattern_review_duration_seconds',
    'podpattern_certificate_expiry_timestamp_seconds',
    'podpattern_catalog_load_errors_total',
  ]) {
    t.match(res.body, new RegExp(`# TYPE ${name} `), name);
  }
  t.match(res.body, /podpattern_certificate_expiry_timestamp_seconds 1900000000/);
  t.match(res.body, /podpattern_catalog_load_errors_total\{source="file"\} 1/);
});

t.test('process metrics are on by default and use our registry only', async (t) => {
  const { createMetrics } = await import('../../src/metrics/index.js');
  const { register } = await import('prom-client');
  const metrics = createMetrics();
  const text = await metrics.registry.metrics();
  t.match(text, /^process_resident_memory_bytes /m, 'standard names, so stock Node.js dashboards work');
  t.match(text, /^nodejs_eventloop_lag_p99_seconds /m);
  t.notMatch(text, /podpattern_process_|podpattern_nodejs_/, 'no podpattern_ prefix on process metrics');
  t.notMatch(text, /podpattern_build_info/, 'no build info unless given');
  t.notMatch(await register.metrics(), /podpattern_|process_resident/, 'nothing lands in the global registry');
});

t.test('podpattern_build_info carries the version, commit and Node.js version', async (t) => {
  const { createMetrics } = await import('../../src/metrics/index.js');
  const { buildInfo } = await import('../../src/version/index.js');
  const build = buildInfo();
  const metrics = createMetrics({ processMetrics: false, build });
  const text = await metrics.registry.metrics();
  t.match(text, /# TYPE podpattern_build_info gauge/);
  t.ok(
    text.includes(`podpattern_build_info{version="${build.version}",commit="${build.commit}",node_version="${process.version}"} 1`),
    text,
  );
});
