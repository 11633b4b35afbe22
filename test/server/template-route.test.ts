// POST /validate-template: the API server's review of PatternTemplate writes. A template the
// catalog accepts is allowed; one it refuses is denied with the catalog's problems (bounded);
// other kinds and operations pass; bad HTTP gets the same 4xx as /mutate.
import t from 'tap';
import { buildApp } from '../../src/server/app.js';
import { testDeps } from './fixtures.js';

function templateReview(spec: unknown, options: { operation?: string; kind?: string; uid?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? 'b2c9d1f0-0000-4000-8000-000000000001',
      kind: { group: 'podpattern.dev', version: 'v1alpha1', kind: options.kind ?? 'PatternTemplate' },
      resource: { group: 'podpattern.dev', version: 'v1alpha1', resource: 'patterntemplates' },
      name: 'ops-echo',
      operation: options.operation ?? 'CREATE',
      object: {
        apiVersion: 'podpattern.dev/v1alpha1',
        kind: 'PatternTemplate',
        // What the API server adds must not count against the template.
        metadata: { name: 'ops-echo', uid: 'x', resourceVersion: '7', managedFields: [{ manager: 'kubectl' }] },
        spec,
        status: { conditions: [] },
      },
    },
  };
}

const good = {
  pattern: 'adapter',
  description: 'An operator-defined adapter.',
  containers: [{ name: 'ops-echo', image: 'registry.example/echo:1' }],
};

async function review(body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const deps = testDeps();
  const app = buildApp(deps);
  const response = await app.inject({
    method: 'POST',
    url: '/validate-template',
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  await app.close();
  return { status: response.statusCode, json: JSON.parse(response.body) };
}

t.test('a template the catalog accepts is allowed', async (t) => {
  const { status, json } = await review(templateReview(good));
  t.equal(status, 200);
  t.match(json, {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'b2c9d1f0-0000-4000-8000-000000000001', allowed: true },
  });
});

t.test('a template the catalog refuses is denied with its problems', async (t) => {
  const bad = { ...good, containers: [{ name: 'ops-echo', image: 'registry.example/echo:1', args: ['$(params.nope)'] }] };
  const { status, json } = await review(templateReview(bad, { operation: 'UPDATE' }));
  t.equal(status, 200);
  t.equal(json.response.allowed, false);
  t.equal(json.response.status.code, 422);
  t.match(json.response.status.message, /^podpattern's catalog refuses PatternTemplate ops-echo: \S/);
  t.match(json.response.status.message, /\$\(params\.nope\) names an undeclared parameter/);
});

t.test('a template with very many problems gets a bounded denial', async (t) => {
  const containers = Array.from({ length: 200 }, (_, i) => ({
    name: `c${i}`,
    image: 'registry.example/echo:1',
    args: [`$(params.p${i}${'x'.repeat(500)})`],
  }));
  const { json } = await review(templateReview({ ...good, containers }));
  t.equal(json.response.allowed, false);
  t.ok(json.response.status.message.length < 16 * 1024, `the message is bounded (${json.response.status.message.length} characters)`);
  t.match(json.response.status.message, /- and \d+ more$/);
});

t.test('deletes, other kinds and a missing object pass', async (t) => {
  t.equal((await review(templateReview(good, { operation: 'DELETE' }))).json.response.allowed, true);
  t.equal((await review(templateReview({ nonsense: true }, { kind: 'Something' }))).json.response.allowed, true);
  const noObject = templateReview(good);
  delete (noObject.request as Record<string, unknown>).object;
  const { json } = await review(noObject);
  t.equal(json.response.allowed, false, 'a write without an object is not a valid template');
});

t.test('bad HTTP gets the same 4xx as /mutate', async (t) => {
  const { status, json } = await review({ kind: 'NotAReview' });
  t.equal(status, 400);
  t.equal(json.code, 'not-an-admission-review');
});
