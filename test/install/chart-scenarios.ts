// The chart's values scenarios the chart tests render: the default values, cert-manager mode, a
// provided Secret and each optional feature. Each is rendered by a real helm once, when first asked.
import { renderChart, type Render } from './helpers.js';

export const scenarios: Record<string, string[]> = {
  default: [],
  'cert-manager, self-signed CA': ['tls.mode=certManager'],
  'cert-manager, own ClusterIssuer': [
    'tls.mode=certManager',
    'tls.certManager.issuerRef.name=corp-ca',
    'tls.certManager.issuerRef.kind=ClusterIssuer',
  ],
  'provided Secret': [
    'tls.mode=secret',
    'tls.secret.name=my-tls',
    `tls.secret.caBundle=${Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64')}`,
  ],
  'NetworkPolicy off': ['networkPolicy.enabled=false'],
  'NetworkPolicy without the pod CIDRs': [
    'networkPolicy.webhookExceptCIDRs[0]=10.244.0.0/16',
    'networkPolicy.webhookExceptCIDRs[1]=fd00:10:244::/56',
  ],
  'client authentication': ['clientAuth.mode=events', 'clientAuth.caSecret=apiserver-client-ca'],
  ServiceMonitor: ['serviceMonitor.enabled=true', 'serviceMonitor.labels.release=prometheus'],
  'namespace defaults': ['webhook.namespaceDefaults=true'],
  'no ValidatingAdmissionPolicy, no PDB, no spread': [
    'validatingAdmissionPolicy.enabled=false',
    'podDisruptionBudget.enabled=false',
    'topologySpread.enabled=false',
  ],
  'catalog ConfigMap and extra args': ['server.catalogConfigMap=my-templates', 'server.extraArgs[0]=--log-level=debug'],
  'image digest, no priority class': ['image.digest=sha256:' + 'a'.repeat(64), 'priorityClassName='],
  'overrides and extras': [
    'nameOverride=hooks',
    'commonLabels.team=platform',
    'podLabels.tier=admission',
    'priorityClassName=infra-critical',
    'extraEnv[0].name=HTTPS_PROXY',
    'extraEnv[0].value=http://proxy:3128',
    'extraVolumes[0].name=extra-ca',
    'extraVolumes[0].configMap.name=corp-ca',
    'extraVolumeMounts[0].name=extra-ca',
    'extraVolumeMounts[0].mountPath=/etc/corp-ca',
    'extraVolumeMounts[0].readOnly=true',
    'podSecurityContext.fsGroup=65532',
    'securityContext.readOnlyRootFilesystem=true',
  ],
  'fullnameOverride, CRD not managed': ['fullnameOverride=pp', 'crds.enabled=false'],
  'CRD not kept on uninstall': ['crds.keep=false'],
  autoscaling: [
    'autoscaling.enabled=true',
    'autoscaling.minReplicas=3',
    'autoscaling.maxReplicas=8',
    'autoscaling.targetCPUUtilizationPercentage=70',
  ],
  'one replica, no PDB': ['replicaCount=1', 'podDisruptionBudget.enabled=false'],
  'percentages that leave a replica': [
    'replicaCount=4',
    '--set-string=rollingUpdate.maxUnavailable=25%',
    '--set-string=podDisruptionBudget.maxUnavailable=50%',
    'rollingUpdate.maxSurge=0',
  ],
  'spread preferences swapped': [
    'topologySpread.nodes.whenUnsatisfiable=ScheduleAnyway',
    'topologySpread.zones.whenUnsatisfiable=DoNotSchedule',
  ],
  'own spread constraints': [
    'topologySpread.constraints[0].maxSkew=2',
    'topologySpread.constraints[0].topologyKey=example.org/rack',
    'topologySpread.constraints[0].whenUnsatisfiable=DoNotSchedule',
    'topologySpread.constraints[0].labelSelector.matchLabels.app\\.kubernetes\\.io/name=podpattern',
  ],
  'system-cluster-critical': ['priorityClassName=system-cluster-critical'],
  'observability kit': [
    'podMonitor.enabled=true',
    'prometheusRule.enabled=true',
    'grafanaDashboard.enabled=true',
    'grafanaDashboard.namespace=monitoring',
  ],
};

const renders = new Map<string, Render>();

export function renderScenario(name: string): Render {
  const set = scenarios[name];
  if (set === undefined) throw new Error(`no chart scenario named ${name}`);
  let render = renders.get(name);
  if (render === undefined) {
    render = renderChart(set);
    renders.set(name, render);
  }
  return render;
}
