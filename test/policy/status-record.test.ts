// The status record the mutating policy writes is the webhook's, byte for byte, with the names
// the final-state check reads (native sidecars, privileges given): evaluated with
// @marcbachmann/cel-js for every built-in, in a long-running pod and in one that runs to completion.
import t from 'tap';
import { evaluate } from '@marcbachmann/cel-js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { startsBeforeApp } from '../../src/model/template.js';
import { statusExpression } from '../../src/policy/compile.js';
import { ANNS_VARIABLE, parameterVariables } from '../../src/policy/params.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();

/** Values the required parameters' patterns take (as in examples/). */
const VALUES: Record<string, string> = { repo: 'https://github.com/kubernetes/git-sync', shards: 'redis-0.redis:6379,redis-1.redis:6379' };

/** The smallest pod that asks for `name`, with each required parameter set. */
function asking(name: string, restartPolicy: string | undefined): PodLike {
  const template = catalog.get(name)!;
  const annotations: Record<string, string> = { [`podpattern.dev/${template.spec.pattern}`]: name };
  for (const [parameter, spec] of Object.entries(template.spec.parameters)) {
    if (spec.required === true && spec.default === undefined)
      annotations[`${name}.podpattern.dev/${parameter}`] = VALUES[parameter] ?? (spec.type === 'integer' ? '1' : 'abc');
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', annotations },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1' }], ...(restartPolicy ? { restartPolicy } : {}) },
  };
}

for (const template of catalog.list().filter((x) => x.source === 'builtin')) {
  t.test(template.name, async (t) => {
    for (const restartPolicy of [undefined, 'Never']) {
      const pod = asking(template.name, restartPolicy);
      const result = inject(pod, catalog, { nativeSidecars: 'always', namespace: 'ns' });
      if (result.outcome !== 'injected') return t.fail(`${template.name}: ${result.outcome}`);
      const variables: Record<string, unknown> = {};
      const context = { object: pod, request: { namespace: 'ns' }, variables };
      variables[ANNS_VARIABLE.name] = evaluate(ANNS_VARIABLE.expression, context);
      for (const v of parameterVariables(template)) variables[v.name] = evaluate(v.expression, context);
      variables['runsToCompletion'] = restartPolicy === 'Never';
      const native = startsBeforeApp(template.spec, template.spec.pattern) ? 'true' : 'variables.runsToCompletion';
      const status = evaluate(statusExpression(template, { template }, native), context);
      t.equal(status, result.pod.metadata?.annotations?.['podpattern.dev/status'], `restartPolicy ${restartPolicy ?? 'Always'}`);
    }
  });
}
