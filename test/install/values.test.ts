// Bad chart values fail `helm template` (so `helm install`) before anything reaches the
// cluster, with a message that names the value; values.schema.json is strict throughout.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { chartDir, renderChart } from './helpers.js';

const cases: Array<[string, string[], RegExp]> = [
  ['an unknown top-level key', ['replicas=3'], /additional properties 'replicas' not allowed/],
  ['a misspelt nested key', ['tls.mod=generate'], /at '\/tls': additional properties 'mod' not allowed/],
  ['a string for an integer', ['replicaCount=two'], /at '\/replicaCount': got string, want integer/],
  ['zero replicas', ['replicaCount=0'], /at '\/replicaCount': minimum/],
  ['an unknown TLS mode', ['tls.mode=vault'], /at '\/tls\/mode'/],
  ['secret mode without the Secret', ['tls.mode=secret'], /at '\/tls\/secret\/(caBundle|name)'/],
  [
    'a caBundle that is not base64',
    ['tls.mode=secret', 'tls.secret.name=x', 'tls.secret.caBundle=not base64!'],
    /at '\/tls\/secret\/caBundle'/,
  ],
  [
    'an issuer kind without a name',
    ['tls.mode=certManager', 'tls.certManager.issuerRef.kind=ClusterIssuer'],
    /at '\/tls\/certManager\/issuerRef'.*'name' required/,
  ],
  ['a webhook timeout over 30s', ['webhook.timeoutSeconds=31'], /at '\/webhook\/timeoutSeconds': maximum/],
  ['an excluded namespace that is not a name', ['webhook.excludeNamespaces[0]=Kube_System'], /at '\/webhook\/excludeNamespaces\/0'/],
  ['an unknown log level', ['server.logLevel=loud'], /at '\/server\/logLevel'/],
  ['an unknown failure mode', ['server.failureMode=maybe'], /at '\/server\/failureMode'/],
  ['a port out of range', ['server.port=70000'], /at '\/server\/port': maximum/],
  ['an extra arg that is not a flag', ['server.extraArgs[0]=serve'], /at '\/server\/extraArgs\/0'/],
  ['a bad image digest', ['image.digest=latest'], /at '\/image\/digest'/],
  ['an unknown pull policy', ['image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy'/],
  ['a bad resource quantity', ['resources.requests.memory=lots'], /at '\/resources\/requests\/memory'/],
  ['an unknown resource', ['resources.limits.gpu=1'], /at '\/resources\/limits': additional properties 'gpu' not allowed/],
  ['a bad duration', ['serviceMonitor.interval=30 seconds'], /at '\/serviceMonitor\/interval'/],
  ['extraCABundle that is not PEM', ['tls.extraCABundle=hello'], /at '\/tls\/extraCABundle'/],
  ['a nameOverride that is not a DNS label', ['nameOverride=Hooks!'], /at '\/nameOverride'/],
  ['an extraEnv entry without a name', ['extraEnv[0].value=x'], /at '\/extraEnv\/0'.*'name'/],
  ['an extraVolumeMount without a path', ['extraVolumeMounts[0].name=x'], /at '\/extraVolumeMounts\/0'.*'mountPath'/],
  ['a misspelt crds key', ['crds.enable=false'], /at '\/crds': additional properties 'enable' not allowed/],
  ['a boolean as a string', ['--set-string=networkPolicy.enabled=true'], /at '\/networkPolicy\/enabled': got string, want boolean/],
  ['a cluster older than 1.30', ['--kube-version=1.29.0'], /requires kubeVersion: >=1\.30\.0-0/],
  // Checks the schema cannot express, done by the chart with `fail`:
  [
    'a grace period shorter than the drain',
    ['terminationGracePeriodSeconds=12'],
    /terminationGracePeriodSeconds \(12\) must be greater than preStopSleepSeconds \(5\) \+ server.drainSeconds \(10\)/,
  ],
  ['the same port twice', ['server.healthPort=8443'], /server.port and server.healthPort must differ/],
  // Replicas, disruptions and rollouts (docs/install.md): no drain or upgrade, nor both at once, takes the last ready replica.
  [
    'one replica with the PodDisruptionBudget',
    ['replicaCount=1'],
    /replicaCount is 1 with podDisruptionBudget.enabled: a node drain would evict the only replica; set replicaCount to 2 or more, or podDisruptionBudget.enabled=false/,
  ],
  [
    'an autoscaler down to one replica with the PodDisruptionBudget',
    ['autoscaling.enabled=true', 'autoscaling.minReplicas=1'],
    /autoscaling.minReplicas is 1 with podDisruptionBudget.enabled/,
  ],
  [
    'a rollout and a drain that together take both replicas',
    ['rollingUpdate.maxUnavailable=1'],
    /rollingUpdate.maxUnavailable \(1\) and podDisruptionBudget.maxUnavailable \(1\) may take down 1 \+ 1 of 2 replicas \(replicaCount\) at once/,
  ],
  [
    'a budget of 60 % of two replicas (rounded up: both)',
    ['--set-string=podDisruptionBudget.maxUnavailable=60%'],
    /may take down 0 \+ 2 of 2 replicas/,
  ],
  [
    "the same against the autoscaler's minimum",
    [
      'autoscaling.enabled=true',
      'autoscaling.minReplicas=3',
      '--set-string=rollingUpdate.maxUnavailable=34%',
      'podDisruptionBudget.maxUnavailable=2',
    ],
    /may take down 1 \+ 2 of 3 replicas \(autoscaling.minReplicas\)/,
  ],
  [
    'a budget that rounds to no pod',
    ['--set-string=podDisruptionBudget.maxUnavailable=0%'],
    /podDisruptionBudget.maxUnavailable \(0%\) comes to 0 of 2 replicas: a node drain would never finish/,
  ],
  [
    'a rollout that may take every replica, without a budget',
    ['podDisruptionBudget.enabled=false', 'rollingUpdate.maxUnavailable=2'],
    /rollingUpdate.maxUnavailable \(2\) lets a rollout take down all 2 replicas \(replicaCount\)/,
  ],
  [
    'a rollout with neither surge nor unavailability',
    ['rollingUpdate.maxSurge=0'],
    /rollingUpdate.maxUnavailable \(0\) and rollingUpdate.maxSurge \(0\) come to 0 pods each for 2 replicas/,
  ],
  [
    'an autoscaler whose maximum is under its minimum',
    ['autoscaling.enabled=true', 'autoscaling.maxReplicas=1'],
    /autoscaling.maxReplicas \(1\) must be at least autoscaling.minReplicas \(2\)/,
  ],
  [
    'an autoscaler without a CPU request',
    ['autoscaling.enabled=true', 'resources.requests.cpu=null'],
    /autoscaling needs resources.requests.cpu/,
  ],
  ['a misspelt autoscaling key', ['autoscaling.enable=true'], /at '\/autoscaling': additional properties 'enable' not allowed/],
  ['a negative surge', ['rollingUpdate.maxSurge=-1'], /at '\/rollingUpdate\/maxSurge'/],
  [
    "the spread's former single whenUnsatisfiable",
    ['topologySpread.whenUnsatisfiable=DoNotSchedule'],
    /at '\/topologySpread': additional properties 'whenUnsatisfiable' not allowed/,
  ],
  ['an unknown whenUnsatisfiable', ['topologySpread.zones.whenUnsatisfiable=Never'], /at '\/topologySpread\/zones\/whenUnsatisfiable'/],
  ['a priority class that is not a name', ['priorityClassName=System Critical'], /at '\/priorityClassName'/],
];

t.test('invalid values fail, naming the value', async (t) => {
  for (const [label, set, expected] of cases) {
    const result = renderChart(set);
    t.not(result.status, 0, `${label}: helm fails`);
    t.match(result.stderr, expected, `${label}: ${result.stderr.trim().split('\n').slice(-1)[0]}`);
  }
});

t.test('every key in values.yaml is described by the schema, which forbids others', async (t) => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
  const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
  const missing: string[] = [];
  const open: string[] = [];
  /** The schema node for `key` under `node`: a declared property, else additionalProperties' schema. */
  const childOf = (node: any, key: string): any =>
    node?.properties?.[key] ?? (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
  const walk = (value: any, node: any, path: string): void => {
    if (node?.$ref) node = schema.definitions[node.$ref.split('/').pop()];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    if (node?.additionalProperties === undefined && node?.type === 'object' && node.properties !== undefined) open.push(path || '/');
    for (const [key, child] of Object.entries(value)) {
      const childNode = childOf(node, key);
      if (childNode === undefined && node?.properties !== undefined) missing.push(`${path}/${key}`);
      walk(child, childNode, `${path}/${key}`);
    }
  };
  walk(values, schema, '');
  t.same(missing, [], 'no value without a schema');
  t.same(open, [], 'every object with declared properties sets additionalProperties');
});
