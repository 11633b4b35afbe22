// A test-only mutating webhook inside the test process: an HTTPS server on the host's address
// the API server reaches, with a certificate from the leg's CA, answering each AdmissionReview
// with the JSON Patch `patchFor` gives for the pod. Registered by the caller with its own
// MutatingWebhookConfiguration (clientConfig.url).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { makeServingCert } from './pki.js';
import type { Json } from './pods.js';
import type { Context } from './suite.js';

export interface TestWebhook {
  url: string;
  calls(): number;
  stop(): Promise<void>;
}

export async function startTestWebhook(ctx: Context, name: string, patchFor: (pod: Json) => Json[]): Promise<TestWebhook> {
  const host = ctx.cluster.apiserverUrl.replace(/^https:\/\/|:\d+$/g, '');
  const cert = makeServingCert(ctx.cluster.dir, ctx.cluster.pki.ca, name, [host]);
  let calls = 0;
  const server = createServer({ cert: readFileSync(cert.cert), key: readFileSync(cert.key) }, (req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      calls += 1;
      const review = JSON.parse(body) as Json;
      const patch = patchFor(review.request.object as Json);
      const response: Json = { uid: review.request.uid, allowed: true };
      if (patch.length > 0)
        Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${host}:${port}/mutate`,
    calls: () => calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
