// The AdmissionReview the tests that run podpattern whole (as a process, as its image) send it:
// a pod in namespace shop that asks for the https-proxy built-in, which the server injects.

export function httpsProxyReview(uid: string) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'shop',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'web',
          annotations: { 'podpattern.dev/sidecar': 'https-proxy', 'https-proxy.podpattern.dev/tls-secret': 'web-tls' },
        },
        spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] },
      },
    },
  };
}
