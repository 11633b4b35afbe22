// The server's leg of a golden case: send the pod to /mutate as an AdmissionReview (v1 and
// v1beta1), apply the returned base64 JSONPatch to the pod as sent, and require the engine's
// injected pod; then send the injected pod and require no patch. test/helpers/webhook-leg.ts
// (the golden suite's hook) delegates here.
import type { Test } from 'tap';
import jsonpatch from 'fast-json-patch';
import type { Catalog } from '../../src/catalog/types.js';
import { inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { buildApp } from '../../src/server/app.js';
import { testDeps } from './fixtures.js';

export async function serverGoldenLeg(t: Test, catalog: Catalog, before: PodLike, expected: PodLike, options: InjectOptions): Promise<void> {
  const deps = testDeps({
    inject,
    catalog: () => catalog,
    nativeSidecars: options.nativeSidecars,
    serverVersion: () => options.serverVersion,
    namespaceAnnotations: () => options.namespaceAnnotations,
  });
  const app = buildApp(deps);
  try {
    for (const apiVersion of ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1']) {
      const first = await review(app, apiVersion, before, options.namespace);
      t.equal(first.apiVersion, apiVersion, `webhook ${apiVersion}: answered in its version`);
      t.equal(first.response.patchType, 'JSONPatch', `webhook ${apiVersion}: a JSONPatch`);
      const ops = JSON.parse(Buffer.from(first.response.patch ?? '', 'base64').toString('utf8')) as jsonpatch.Operation[];
      const patched = jsonpatch.applyPatch(structuredClone(before), ops, true, false).newDocument;
      t.same(patched, expected, `webhook ${apiVersion}: the patch applied to the pod gives the golden pod`);
      const again = await review(app, apiVersion, expected, options.namespace);
      t.match(again.response, { uid: 'golden', allowed: true }, `webhook ${apiVersion}: the injected pod is admitted`);
      t.notOk('patch' in again.response || 'patchType' in again.response, `webhook ${apiVersion}: and left unchanged`);
    }
  } finally {
    await app.close();
  }
}

interface Answer {
  apiVersion: string;
  response: { uid: string; allowed: boolean; patchType?: string; patch?: string; warnings?: string[] };
}

async function review(app: ReturnType<typeof buildApp>, apiVersion: string, pod: PodLike, namespace: string | undefined): Promise<Answer> {
  const res = await app.inject({
    method: 'POST', url: '/mutate?timeout=10s', headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({
      apiVersion, kind: 'AdmissionReview',
      request: { uid: 'golden', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace, object: pod },
    }),
  });
  return res.json() as Answer;
}
