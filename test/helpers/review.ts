// The AdmissionReview the tests that run podpattern whole (as a process, as its image) send it:
// bench/pod.ts's pod in namespace shop that asks for the https-proxy built-in, which the server injects.
import { httpsProxyPod, reviewOf } from '../../bench/pod.js';
import type { PodLike } from '../../src/engine/index.js';

export function httpsProxyReview(uid: string): { request: { uid: string; object: PodLike } } {
  return JSON.parse(reviewOf(httpsProxyPod(), uid)) as { request: { uid: string; object: PodLike } };
}
