// `podpattern probe`: sends a dry-run pod that asks for a template through the API server, as
// `kubectl create --dry-run=server` would, and checks that it comes back injected. It proves
// the whole path (webhook configuration, caBundle, Service, endpoints, server, catalog) at
// once. The chart's `helm test` runs it in podpattern's own image with in-cluster credentials,
// which need only `create` on pods in the probed namespace; a dry run creates nothing.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type V1Pod } from '#kube';
import { loadBuiltinTemplates } from '../catalog/index.js';
import { readStatus } from '../engine/status.js';
import { DOMAIN, INJECTION_LABEL } from '../model/keys.js';
import { parseFlags, processIo, type Io } from './common.js';
import { ClusterError, call, connect, contextNamespace } from './kube/connect.js';

const HELP = `usage: podpattern probe [-n NAMESPACE] [--template NAME] [--pattern P] [--kubeconfig FILE] [--context NAME]

Sends a dry-run pod asking for a template through the API server (nothing is created) and
checks that the webhook injected it. Exit 0 when it did, 1 when it did not or the call failed.
  -n, --namespace   a namespace labelled ${INJECTION_LABEL} (default: the context's)
  --template        the template to ask for (default redis-exporter: it needs no parameters)
  --pattern         its pattern, when it is not a built-in template
  --kubeconfig      the kubeconfig (default: KUBECONFIG, ~/.kube/config, else in-cluster)
  --context         a context of the kubeconfig other than the current one
`;

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseFlags<{ namespace?: string; template?: string; pattern?: string; kubeconfig?: string; context?: string }>(
    'probe',
    argv,
    {
      namespace: { type: 'string', short: 'n' },
      template: { type: 'string' },
      pattern: { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
    HELP,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  const values = parsed.values;
  const template = values.template ?? 'redis-exporter';
  const pattern = values.pattern ?? loadBuiltinTemplates().templates.find((t) => t.name === template)?.spec.pattern;
  if (pattern === undefined) {
    io.stderr(`podpattern probe: '${template}' is not a built-in template: give its pattern with --pattern sidecar|ambassador|adapter\n`);
    return 2;
  }
  try {
    const config = connect(values.kubeconfig, values.context);
    const namespace = values.namespace ?? contextNamespace(config);
    const result = await probe(config.makeApiClient(CoreV1Api), namespace, template, pattern, (what, request) =>
      call(what, config, request),
    );
    io.stdout(`${result.message}\n`);
    return result.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof ClusterError) {
      io.stderr(`podpattern probe: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

export interface ProbeResult {
  ok: boolean;
  message: string;
}

type Caller = <T>(what: string, request: () => Promise<T>) => Promise<T>;

/** Creates the dry-run pod and reads what came back. A denial is an answer too: the webhook ran. */
export async function probe(api: CoreV1Api, namespace: string, template: string, pattern: string, caller: Caller): Promise<ProbeResult> {
  const pod = probePod(namespace, template, pattern);
  let created: V1Pod;
  try {
    created = await caller(`create a dry-run pod in ${namespace}`, () => api.createNamespacedPod({ namespace, body: pod, dryRun: 'All' }));
  } catch (error) {
    if (error instanceof ClusterError && /podpattern/.test(error.message))
      return { ok: false, message: `fail: the webhook denied the probe pod: ${error.message}` };
    throw error;
  }
  const status = readStatus(created.metadata?.annotations ?? {});
  if (status === undefined || status === 'unreadable' || !status.templates.some((t) => t.name === template)) {
    return {
      ok: false,
      message:
        `fail: a dry-run pod asking for ${template} in ${namespace} came back without it: the API server did not send it to ` +
        `the webhook (is ${namespace} labelled ${INJECTION_LABEL}=enabled?) or ignored a failed call (failurePolicy Ignore); ` +
        `'podpattern check -n ${namespace}' says which`,
    };
  }
  const containers = [...(created.spec?.initContainers ?? []), ...(created.spec?.containers ?? [])].map((c) => c.name);
  return {
    ok: true,
    message: `ok: the webhook injected ${template} into a dry-run pod in ${namespace} (containers: ${containers.join(', ')})`,
  };
}

export function probePod(namespace: string, template: string, pattern: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `podpattern-probe-${randomBytes(4).toString('hex')}`,
      namespace,
      labels: { 'app.kubernetes.io/name': 'podpattern-probe' },
      // --pattern is passed through as typed: a pattern this version does not know is the webhook's to refuse.
      annotations: { [`${DOMAIN}/${pattern}`]: template },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          securityContext: {
            allowPrivilegeEscalation: false,
            runAsNonRoot: true,
            runAsUser: 65532,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      ],
    },
  };
}
