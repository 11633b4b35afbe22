// A test-only mutating webhook inside the test process: an HTTPS server on the host's address
// the API server reaches, with a certificate from the leg's CA, answering each AdmissionReview
// with the JSON Patch `patchFor` gives for the pod; registerTestWebhook() gives it the API
// server's pod CREATEs in chosen namespaces.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
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

export interface TestWebhookRegistration {
  /** `<name>.e2e.podpattern.dev` is the webhook, `zz-e2e-<name>` its configuration. */
  name: string;
  /** The namespaces whose pod CREATEs it is sent: those with these labels. */
  namespaceLabels: Record<string, string>;
  reinvocationPolicy: 'Never' | 'IfNeeded';
  timeoutSeconds?: number;
}

/**
 * Registers `webhook` for pod CREATEs with a MutatingWebhookConfiguration of its own
 * (failurePolicy Fail), deleted when `t` ends.
 */
export async function registerTestWebhook(
  t: Test,
  ctx: Context,
  webhook: TestWebhook,
  registration: TestWebhookRegistration,
): Promise<void> {
  // Called after podpattern: the API server orders mutating webhooks by configuration name.
  const configuration = `zz-e2e-${registration.name}`;
  await ctx.kube.must(
    ['apply', '-f', '-'],
    JSON.stringify(
      podCreateWebhook(configuration, `${registration.name}.e2e.podpattern.dev`, {
        url: webhook.url,
        caBundle: ctx.cluster.pki.caBundle,
        namespaceLabels: registration.namespaceLabels,
        reinvocationPolicy: registration.reinvocationPolicy,
        ...(registration.timeoutSeconds === undefined ? {} : { timeoutSeconds: registration.timeoutSeconds }),
      }),
    ),
  );
  t.teardown(async () => {
    await ctx.kube.kubectl(['delete', 'mutatingwebhookconfiguration', configuration]);
  });
}

/**
 * A MutatingWebhookConfiguration `configuration` with one webhook `name` (failurePolicy Fail)
 * for pod CREATEs in namespaces with `namespaceLabels`, called at `url`.
 */
export function podCreateWebhook(
  configuration: string,
  name: string,
  options: {
    url: string;
    caBundle: string;
    namespaceLabels: Record<string, string>;
    reinvocationPolicy: 'Never' | 'IfNeeded';
    timeoutSeconds?: number;
  },
): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: configuration },
    webhooks: [
      {
        name,
        clientConfig: { url: options.url, caBundle: options.caBundle },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        namespaceSelector: { matchLabels: options.namespaceLabels },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        failurePolicy: 'Fail',
        reinvocationPolicy: options.reinvocationPolicy,
        ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
      },
    ],
  };
}
