// Bad HTTP gets a 4xx with a JSON error body and a stable code, and never reaches the engine:
// on /mutate, /validate-template, /validate-policy and /validate-workload alike, which decode a review the same way.
import t from 'tap';
import { buildApp, BODY_LIMIT_BYTES } from '../../src/server/app.js';
import { MAX_JSON_SEPARATORS } from '../../src/server/json-budget.js';
import { podReview, testDeps } from './fixtures.js';

const valid = podReview() as any;
const withRequest = (change: (request: any) => void): string => {
  const review = structuredClone(valid);
  change(review.request);
  return JSON.stringify(review);
};

interface Case {
  name: string;
  method?: 'GET' | 'POST' | 'PUT';
  url?: string;
  contentType?: string | null;
  body?: string | Buffer;
  status: number;
  code: string;
}

const cases: Case[] = [
  { name: 'text/plain', contentType: 'text/plain', body: JSON.stringify(valid), status: 415, code: 'unsupported-media-type' },
  { name: 'application/yaml', contentType: 'application/yaml', body: 'kind: AdmissionReview', status: 415, code: 'unsupported-media-type' },
  { name: 'form encoded', contentType: 'application/x-www-form-urlencoded', body: 'a=b', status: 415, code: 'unsupported-media-type' },
  { name: 'no content type', contentType: null, body: JSON.stringify(valid), status: 415, code: 'unsupported-media-type' },
  { name: 'not JSON', body: '{"apiVersion": ', status: 400, code: 'invalid-json' },
  { name: 'empty body', body: '', status: 400, code: 'empty-body' },
  // No ':' or ',' in them, but a million values each: counted before parsing.
  { name: 'deeply nested arrays', body: '['.repeat(1_000_000) + ']'.repeat(1_000_000), status: 413, code: 'review-too-complex' },
  {
    name: 'nested arrays inside a review',
    body: withRequest((r) => (r.object.metadata.labels = 'X')).replace('"X"', '['.repeat(30_000) + ']'.repeat(30_000)),
    status: 413,
    code: 'review-too-complex',
  },
  { name: 'many empty objects', body: `[${'{}'.repeat(30_000)}]`, status: 413, code: 'review-too-complex' },
  { name: 'JSON null', body: 'null', status: 400, code: 'not-an-admission-review' },
  { name: 'JSON array', body: '[]', status: 400, code: 'not-an-admission-review' },
  { name: 'JSON string', body: '"AdmissionReview"', status: 400, code: 'not-an-admission-review' },
  { name: 'another kind', body: JSON.stringify({ ...valid, kind: 'Pod' }), status: 400, code: 'not-an-admission-review' },
  { name: '__proto__ key', body: '{"__proto__":{"kind":"AdmissionReview"}}', status: 400, code: 'not-an-admission-review' },
  {
    name: 'unknown apiVersion',
    body: JSON.stringify({ ...valid, apiVersion: 'admission.k8s.io/v2' }),
    status: 400,
    code: 'unsupported-api-version',
  },
  {
    name: 'no request',
    body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
    status: 400,
    code: 'missing-request',
  },
  {
    name: 'a response instead of a request',
    body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'x', allowed: true } }),
    status: 400,
    code: 'missing-request',
  },
  { name: 'missing request.uid', body: withRequest((r) => delete r.uid), status: 400, code: 'invalid-request' },
  { name: 'empty request.uid', body: withRequest((r) => (r.uid = '')), status: 400, code: 'invalid-request' },
  { name: 'numeric request.uid', body: withRequest((r) => (r.uid = 42)), status: 400, code: 'invalid-request' },
  { name: 'missing request.kind', body: withRequest((r) => delete r.kind), status: 400, code: 'invalid-request' },
  { name: 'string request.object', body: withRequest((r) => (r.object = 'pod')), status: 400, code: 'invalid-request' },
  { name: 'string dryRun', body: withRequest((r) => (r.dryRun = 'yes')), status: 400, code: 'invalid-request' },
  { name: 'bad ?timeout=', url: '?timeout=ten', body: JSON.stringify(valid), status: 400, code: 'invalid-timeout' },
  {
    name: 'more JSON values than any pod review',
    body: withRequest(
      (r) =>
        (r.object.metadata.annotations = Object.fromEntries(Array.from({ length: MAX_JSON_SEPARATORS / 2 + 1 }, (_, i) => [`a${i}`, 'x']))),
    ),
    status: 413,
    code: 'review-too-complex',
  },
  { name: 'over the body limit', body: Buffer.alloc(BODY_LIMIT_BYTES + 1, 0x20), status: 413, code: 'body-too-large' },
  { name: 'GET', method: 'GET', status: 404, code: 'not-found' },
  { name: 'PUT', method: 'PUT', body: JSON.stringify(valid), status: 404, code: 'not-found' },
];

t.test('malformed requests', async (t) => {
  let engineCalls = 0;
  const deps = testDeps({
    inject: () => {
      engineCalls += 1;
      return { outcome: 'skipped', reason: 'not-requested', warnings: [] };
    },
  });
  const app = buildApp(deps);
  t.teardown(() => app.close());
  const unknownPath: Case = { name: 'unknown path', url: '/validate', body: JSON.stringify(valid), status: 404, code: 'not-found' };
  for (const [path, c] of [
    ...['/mutate', '/validate-template', '/validate-policy', '/validate-workload'].flatMap((path) => cases.map((c) => [path, c] as const)),
    ['', unknownPath] as const,
  ]) {
    const headers: Record<string, string> = {};
    if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
    const res = await app.inject({
      method: c.method ?? 'POST',
      url: `${path}${c.url ?? ''}`,
      headers,
      ...(c.body === undefined ? {} : { payload: c.body }),
    });
    t.equal(res.statusCode, c.status, `${path} ${c.name}: status`);
    t.match(res.headers['content-type'], /^application\/json/, `${path} ${c.name}: JSON body`);
    const body = res.json<Record<string, unknown>>();
    t.match(body, { statusCode: c.status, code: c.code, error: String, message: String }, `${path} ${c.name}: error body`);
  }
  t.equal(engineCalls, 0, 'no malformed request reaches the engine');
  const valid200 = await app.inject({
    method: 'POST',
    url: '/mutate',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: JSON.stringify(valid),
  });
  t.equal(valid200.statusCode, 200, 'the app still answers after all of them');
});
