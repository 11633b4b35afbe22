// The CLI's defaults match what the chart installs on: its oldest Kubernetes (Chart.yaml
// kubeVersion) is the version the CLI assumes, and on it native sidecars are used, as the
// webhook uses them there with the chart's default --native-sidecars=auto.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_KUBE_VERSION, engineOptions } from '../../src/cli/common.js';
import { useNativeSidecars } from '../../src/engine/index.js';
import { chartDir } from './helpers.js';

t.test("the CLI assumes the chart's oldest Kubernetes, and native sidecars there", async (t) => {
  const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { kubeVersion: string };
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as { server: { nativeSidecars: string } };
  const oldest = /^>=\s*(\d+\.\d+)/.exec(chart.kubeVersion)?.[1];
  t.equal(DEFAULT_KUBE_VERSION, oldest, `Chart.yaml kubeVersion ${chart.kubeVersion}`);
  const options = engineOptions({});
  t.same(options.serverVersion, { major: 1, minor: Number(DEFAULT_KUBE_VERSION.split('.')[1]) });
  t.equal(options.nativeSidecars, values.server.nativeSidecars, "the CLI's --native-sidecars default is the chart's");
  t.equal(useNativeSidecars(options), true, 'so native sidecars by default');
});
