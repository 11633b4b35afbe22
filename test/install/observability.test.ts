// The observability kit: the PrometheusRule's alert expressions and the Grafana dashboard's
// queries parse as PromQL (Prometheus' own grammar, @prometheus-io/lezer-promql), and every
// metric they name is one the server really exposes: read from a real /metrics of
// buildHealthApp, not from a list kept by hand. The few names from elsewhere are listed below.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { pino } from 'pino';
import t from 'tap';
import { createMetrics } from '../../src/metrics/index.js';
import { buildHealthApp } from '../../src/server/health.js';
import { buildInfo } from '../../src/version/index.js';
import { chartDir, find, renderChart, validateObject } from './helpers.js';

/** Metrics the kit reads that other exporters provide (kube-state-metrics). */
const FROM_ELSEWHERE = new Set(['kube_deployment_status_replicas_ready']);

/** Grafana's variables that are not PromQL, replaced by what Grafana would put there. */
function substituteGrafanaVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');
}

/** Every metric name a PromQL expression selects; throws on a syntax error, with where. */
export function metricNames(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`not PromQL at ${cursor.from}: ${expr.slice(0, cursor.from)} ▶ ${expr.slice(cursor.from)}`);
    if (cursor.name === 'Identifier' && cursor.node.parent?.name === 'VectorSelector') names.push(expr.slice(cursor.from, cursor.to));
  } while (cursor.next());
  return names;
}

/** Names a scrape of the real /metrics offers: each family, and a histogram's series too. */
async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics({ build: buildInfo() });
  const app = buildHealthApp({ logger: pino({ level: 'silent' }), metrics, readiness: () => ({}) });
  const text = (await app.inject('/metrics')).body;
  await app.close();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

const rendered = renderChart(['prometheusRule.enabled=true', 'grafanaDashboard.enabled=true', 'podMonitor.enabled=true']);
const rule = find(rendered.objects, 'PrometheusRule');
const alerts: Array<{ alert: string; expr: string }> = rule.spec.groups.flatMap((g: { rules: unknown[] }) => g.rules);
const dashboard = JSON.parse(find(rendered.objects, 'ConfigMap').data['podpattern.json']) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ definition?: string }> };
};
const queries = dashboard.panels.flatMap((panel) =>
  panel.targets.map((target) => ({ where: `panel "${panel.title}"`, expr: substituteGrafanaVariables(target.expr) })),
);

t.test('the checker catches syntax errors and unknown names', async (t) => {
  t.same(metricNames('sum by (le) (rate(podpattern_review_duration_seconds_bucket{namespace="x"}[5m]))'), [
    'podpattern_review_duration_seconds_bucket',
  ]);
  t.throws(() => metricNames('sum(rate(podpattern_reviews_total[5m])'), /not PromQL/);
  const exposed = await exposedNames();
  t.notOk(exposed.has('podpattern_review_total'), 'a misspelt name is not exposed');
  t.ok(
    exposed.has('podpattern_build_info') &&
      exposed.has('process_resident_memory_bytes') &&
      exposed.has('podpattern_review_duration_seconds_bucket'),
  );
});

t.test('the kit renders valid objects and the dashboard file is what the ConfigMap holds', async (t) => {
  t.equal(rendered.status, 0, rendered.stderr);
  for (const kind of ['PrometheusRule', 'PodMonitor', 'ConfigMap']) t.same(await validateObject(find(rendered.objects, kind)), [], kind);
  t.same(dashboard, JSON.parse(readFileSync(join(chartDir, 'files', 'dashboard.json'), 'utf8')));
  t.same(
    find(rendered.objects, 'PodMonitor').spec.podMetricsEndpoints[0].port,
    find(rendered.objects, 'Deployment').spec.template.spec.containers[0].ports[1].name,
    'scrapes the health port',
  );
});

t.test('every alert and dashboard query parses, and names only metrics the server exposes', async (t) => {
  const exposed = await exposedNames();
  const expressions = [
    ...alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr })),
    ...queries,
    ...dashboard.templating.list.flatMap((v) =>
      v.definition === undefined ? [] : [{ where: 'variable', expr: v.definition.replace(/^label_values\((\w+),.*$/, '$1') }],
    ),
  ];
  t.ok(alerts.length >= 5 && queries.length >= 8, `${alerts.length} alerts, ${queries.length} queries`);
  for (const { where, expr } of expressions) {
    const names = metricNames(expr);
    t.ok(names.length > 0, `${where} reads a metric`);
    for (const name of names) t.ok(exposed.has(name) || FROM_ELSEWHERE.has(name), `${where}: ${name} is exposed`);
  }
});

t.test('the alerts cover what an operator is paged for, at the thresholds the values give', async (t) => {
  t.same(alerts.map((a) => a.alert).sort(), [
    'PodpatternCertificateExpiresSoon',
    'PodpatternDenialsHigh',
    'PodpatternNoReadyReplica',
    'PodpatternPodsNotInjected',
    'PodpatternPodsStillNotInjected',
    'PodpatternReviewErrors',
    'PodpatternRolloutPaused',
    'PodpatternSlowReviews',
    'PodpatternTemplatesRefused',
  ]);
  const byName = (name: string): string => alerts.find((a) => a.alert === name)!.expr;
  t.match(byName('PodpatternCertificateExpiresSoon'), /< 14 \* 86400$/);
  t.match(byName('PodpatternSlowReviews'), /histogram_quantile\(0\.99,.*\) > 2\.5$/, 'half of the default 5 s timeout');
  const slower = renderChart(['prometheusRule.enabled=true', 'webhook.timeoutSeconds=10']);
  t.match(
    find(slower.objects, 'PrometheusRule').spec.groups[0].rules.find((r: { alert: string }) => r.alert === 'PodpatternSlowReviews').expr,
    /> 5$/,
  );
  t.match(byName('PodpatternNoReadyReplica'), /deployment="podpattern"/);
  t.match(
    byName('PodpatternRolloutPaused'),
    /^max by \(template\) \(podpattern_rollout_paused\{.*\}\) > 0$/,
    'per template, whichever replica led last',
  );
});
