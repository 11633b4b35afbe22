// The webhook leg of the golden tests (STYLE.md, after Istio): the same pod, sent as an
// AdmissionReview to the real Fastify app with the real engine, must come back with a patch
// that, applied to the pod, gives the golden pod; the injected pod sent again must come back
// allowed with no patch.
import type { Test } from 'tap';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { buildApp } from '../../src/server/app.js';
import { podReview, testDeps } from '../server/fixtures.js';
import { testCatalog } from './catalog.js';

const catalog = testCatalog();

async function send(options: InjectOptions, pod: PodLike): Promise<{ allowed: boolean; patch?: Operation[]; message?: string }> {
  const app = buildApp(
    testDeps({
      inject,
      catalog: () => catalog,
      nativeSidecars: options.nativeSidecars,
      ...(options.serverVersion === undefined ? {} : { serverVersion: () => options.serverVersion }),
      ...(options.namespaceAnnotations === undefined ? {} : { namespaceAnnotations: () => options.namespaceAnnotations }),
    }),
  );
  try {
    const reply = await app.inject({ method: 'POST', url: '/mutate', payload: podReview({ object: pod, namespace: options.namespace ?? 'default', uid: 'golden-0000-0000' }) });
    const { response } = reply.json() as { response: { allowed: boolean; patch?: string; status?: { message?: string } } };
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
  const first = await send(options, before);
  t.equal(first.allowed, true, 'webhook: allowed');
  const patched = jsonpatch.applyPatch(structuredClone(before), first.patch ?? [], true, false).newDocument;
  t.same(patched, expected, 'webhook: the returned patch applied to the pod gives the golden pod');
  const again = await send(options, expected);
  t.same(again, { allowed: true }, 'webhook: the injected pod comes back allowed with no patch');
}

/** A pod the engine denies is denied by the webhook with the same message. */
export async function goldenWebhookDenial(t: Test, pod: PodLike, message: string, options: InjectOptions): Promise<void> {
  const answer = await send(options, pod);
  t.equal(answer.allowed, false, 'webhook: denied');
  t.equal(answer.message, message, 'webhook: with the engine\'s message');
  t.equal(answer.patch, undefined, 'webhook: and no patch');
}
