// The webhook leg of the golden tests (after Istio's injector tests): the same pod, sent as an
// AdmissionReview (v1 and v1beta1) to the real Fastify app with the real engine, must come back
// in its version with a patch that, applied to the pod, gives the golden pod; the injected pod
// sent again must come back allowed with no patch.
import type { Test } from 'tap';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { ADMISSION_API_VERSIONS, type AdmissionApiVersion } from '../../src/admission/types.js';
import { buildApp } from '../../src/server/app.js';
import { podReview, testDeps } from '../server/fixtures.js';
import { testCatalog } from './catalog.js';

const catalog = testCatalog();

/**
 * Sends the pod twice with two uids, as the API server sends the replicas of a ReplicaSet: the
 * second answer must be the first with its own uid.
 */
async function send(
  t: Test,
  options: InjectOptions,
  pod: PodLike,
  apiVersion: AdmissionApiVersion = 'admission.k8s.io/v1',
): Promise<{ allowed: boolean; patch?: Operation[]; message?: string }> {
  const app = buildApp(
    testDeps({
      inject,
      catalog: () => catalog,
      nativeSidecars: options.nativeSidecars,
      ...(options.serverVersion === undefined ? {} : { serverVersion: () => options.serverVersion }),
      ...(options.namespaceAnnotations === undefined ? {} : { namespaceAnnotations: () => options.namespaceAnnotations }),
      ...(options.namespaceLabels === undefined ? {} : { namespaceLabels: () => options.namespaceLabels }),
    }),
  );
  try {
    const post = async (uid: string) =>
      (
        await app.inject({
          method: 'POST',
          url: '/mutate?timeout=10s',
          payload: podReview({ apiVersion, object: pod, namespace: pod.metadata?.namespace ?? options.namespace ?? 'default', uid }),
        })
      ).json<{ apiVersion: string; response: { uid: string; allowed: boolean; patch?: string; status?: { message?: string } } }>();
    const answer = await post('golden-0000-0001');
    t.equal(answer.apiVersion, apiVersion, `webhook ${apiVersion}: answered in its version`);
    const { response } = answer;
    const again = await post('golden-0000-0002');
    t.same(
      again.response,
      { ...response, uid: 'golden-0000-0002' },
      'webhook: the same review with another uid gets the same answer, with its uid',
    );
    return {
      allowed: response.allowed,
      ...(response.patch === undefined ? {} : { patch: JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[] }),
      ...(response.status?.message === undefined ? {} : { message: response.status.message }),
    };
  } finally {
    await app.close();
  }
}

export async function goldenWebhookLeg(t: Test, before: PodLike, expected: PodLike, options: InjectOptions): Promise<void> {
  for (const apiVersion of ADMISSION_API_VERSIONS) {
    const first = await send(t, options, before, apiVersion);
    t.equal(first.allowed, true, `webhook ${apiVersion}: allowed`);
    const patched = jsonpatch.applyPatch(structuredClone(before), first.patch ?? [], true, false).newDocument;
    t.same(patched, expected, `webhook ${apiVersion}: the returned patch applied to the pod gives the golden pod`);
    const again = await send(t, options, expected, apiVersion);
    t.same(again, { allowed: true }, `webhook ${apiVersion}: the injected pod comes back allowed with no patch`);
  }
}

/** A pod the engine denies is denied by the webhook with the same message. */
export async function goldenWebhookDenial(t: Test, pod: PodLike, message: string, options: InjectOptions): Promise<void> {
  const answer = await send(t, options, pod);
  t.equal(answer.allowed, false, 'webhook: denied');
  t.equal(answer.message, message, "webhook: with the engine's message");
  t.equal(answer.patch, undefined, 'webhook: and no patch');
}
