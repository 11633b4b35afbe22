// The namespace's PatternPolicy in `podpattern check`: none, or what it requires, forbids and
// narrows, whether it fits the catalog, and whether podpattern has labelled the namespace for it
// (the fail-closed webhook entry that sees every pod there selects that label).
import { CustomObjectsApi, type KubeConfig, type V1Namespace } from '#kube';
import { judgePolicy, readPolicy } from '../../catalog/policy.js';
import { POLICY_LABEL } from '../../model/keys.js';
import { POLICY_GROUP, POLICY_NAME, POLICY_PLURAL, type Policy } from '../../model/policy.js';
import { TEMPLATE_VERSION, type Catalog } from '../../model/template.js';
import { explainFailure, isNotFound } from '../kube/connect.js';
import { fail, ok, warn, type Finding } from './findings.js';

/** The namespace's policy object, undefined when it has none; a finding when it cannot be read. */
export async function fetchPolicy(config: KubeConfig, namespace: string): Promise<{ object?: unknown; finding?: Finding }> {
  try {
    return {
      object: await config
        .makeApiClient(CustomObjectsApi)
        .getNamespacedCustomObject({ group: POLICY_GROUP, version: TEMPLATE_VERSION, namespace, plural: POLICY_PLURAL, name: POLICY_NAME }),
    };
  } catch (error) {
    if (isNotFound(error)) return {};
    return {
      finding: warn(`namespace ${namespace} policy`, explainFailure(error, `read PatternPolicy ${namespace}/${POLICY_NAME}`, config)),
    };
  }
}

/** What the policy holds pods of the namespace to, in one finding; and the policy, for the pod checks. */
export function checkPolicy(namespace: V1Namespace, object: unknown, catalog: Catalog | undefined): { finding: Finding; policy?: Policy } {
  const name = namespace.metadata?.name ?? 'default';
  const check = `namespace ${name} policy`;
  const label = namespace.metadata?.labels?.[POLICY_LABEL];
  if (object === undefined) {
    return {
      finding:
        label === undefined
          ? ok(check, 'no PatternPolicy')
          : warn(
              check,
              `no PatternPolicy, but the namespace is still labelled ${POLICY_LABEL}=${label}`,
              `podpattern removes the label when it runs; kubectl label namespace ${name} ${POLICY_LABEL}-`,
            ),
    };
  }
  const read = readPolicy(object, name);
  if (!read.ok)
    return {
      finding: fail(
        check,
        `PatternPolicy ${name}/${POLICY_NAME} cannot be read, so pods there are refused: ${read.problems.slice(0, 5).join('; ')}`,
        'fix the policy (kubectl edit patternpolicy default)',
      ),
      policy: undefined,
    };
  const { policy } = read;
  const parts = [
    policy.require.length === 0
      ? 'requires nothing'
      : `requires ${policy.require.map((r) => r.template).join(', ')} in every pod (no opt-out)`,
    ...(policy.forbid.length === 0 ? [] : [`forbids ${policy.forbid.join(', ')}`]),
    ...Object.entries(policy.narrow).map(([template, parameters]) => `narrows ${template} ${Object.keys(parameters).join(', ')}`),
  ];
  const wanted = policy.require.length > 0 ? 'require' : 'present';
  if (label !== wanted)
    return {
      finding: warn(
        check,
        `${parts.join('; ')}; but the namespace is labelled ${POLICY_LABEL}=${label ?? '(none)'}, not ${wanted}, so ${wanted === 'require' ? 'pods without podpattern annotations are not sent to podpattern' : 'podpattern has not caught up'}`,
        'podpattern sets the label when it runs: check its logs (kubectl logs -l app.kubernetes.io/name=podpattern)',
      ),
      policy,
    };
  const judged = catalog === undefined ? undefined : judgePolicy(object, catalog, name);
  if (judged !== undefined && !judged.ok)
    return {
      finding: warn(
        check,
        `${parts.join('; ')}; it does not fit the catalog: ${judged.problems.slice(0, 5).join('; ')}`,
        'fix the policy or the templates it names',
      ),
      policy,
    };
  return { finding: ok(check, parts.join('; ')), policy };
}
