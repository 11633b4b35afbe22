// The composition's rules are a list of named functions (pod, pieces) -> problems, run in order;
// the policy compiler writes the same rules, by the same names, in the same order.
import t from 'tap';
import type { V1Container } from '#kube';
import { compose } from '../../src/engine/compose.js';
import { resolveParameters } from '../../src/engine/params.js';
import { renderTemplate } from '../../src/engine/render.js';
import { RULES, type Piece, type Placement } from '../../src/engine/rules.js';
import { emptyStatus } from '../../src/engine/status.js';
import type { PodLike } from '../../src/engine/types.js';
import { POLICY_RULE_NAMES } from '../../src/policy/checks.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();
const placement: Placement = { native: true, why: 'the cluster runs native sidecars', runsToCompletion: false, controllerVolumes: [] };

/** The template rendered as the engine renders it: annotation values read, defaults filled in. */
function piece(name: string, annotations: [string, string][] = []): Piece {
  const template = catalog.get(name);
  if (template === undefined) throw new Error(`no template ${name}`);
  const { values, problems } = resolveParameters(template, new Map(annotations));
  if (problems.length > 0) throw new Error(problems.map((p) => p.message).join('; '));
  return { template, pattern: template.spec.pattern, rendered: renderTemplate(template, values, { name: 'web', namespace: 'ns' }) };
}

function pod(containers: V1Container[]): PodLike {
  return { metadata: { name: 'web', namespace: 'ns', annotations: {} }, spec: { containers } };
}

t.test('the rules are named and run in a fixed order; the policy compiler names a subsequence of them', async (t) => {
  const names = Object.keys(RULES);
  t.same(names, [
    'annotations',
    'volumes',
    'initContainerNames',
    'hostNetwork',
    'nativeSidecars',
    'containerNames',
    'appEnv',
    'appMounts',
    'ports',
    'missingVolumes',
  ]);
  t.same(POLICY_RULE_NAMES, ['volumes', 'initContainerNames', 'hostNetwork', 'containerNames', 'appEnv', 'appMounts', 'ports']);
  t.same(
    POLICY_RULE_NAMES,
    names.filter((name) => (POLICY_RULE_NAMES as string[]).includes(name)),
    "in the engine's order",
  );
});

t.test('a container name the pod already has is left as the pod has it, and only the containerNames rule says so', async (t) => {
  const proxy = piece('https-proxy', [['tls-secret', 'web-tls']]);
  const arriving = pod([
    { name: 'app', image: 'app:1' },
    { name: 'https-proxy', image: 'mine:1' },
  ]);
  const composed = compose(arriving, [proxy], emptyStatus([]), placement);
  t.same(
    composed.problems.map((p) => p.code),
    ['clash-container'],
  );
  t.match(
    composed.problems[0]?.message,
    /container name 'https-proxy': template https-proxy adds a container of that name, and so does the pod's container 'https-proxy'/,
  );
  t.equal(arriving.spec?.containers.find((c) => c.name === 'https-proxy')?.image, 'mine:1', "the pod's container stays");
});

t.test("a template on the app's port: the ports rule names the parameter that moves it", async (t) => {
  const one = piece('https-proxy', [['tls-secret', 'a']]);
  const arriving = pod([{ name: 'app', image: 'app:1', ports: [{ containerPort: 8443 }] }]);
  const { problems } = compose(arriving, [one], emptyStatus([]), placement);
  t.same(
    problems.map((p) => p.code),
    ['clash-port'],
  );
  t.match(problems[0]?.message, /port 8443\/TCP: .*; set https-proxy\.podpattern\.dev\/listen-port to a free port \(it is 8443\)/);
});
