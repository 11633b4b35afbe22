// https-proxy in a real pod (test/podrunner): nginx as a native sidecar terminates TLS on the pod
// IP with the certificate of the pod's Secret and proxies to the app on 127.0.0.1.
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { httpsCall, makeCertificates } from '../helpers/tls.js';
import { injectedPod, podRunnerSkip, restrictedApp, runUntilReady, stopCleanly, untilStopped } from '../podrunner/builtin.js';

t.test(
  "https-proxy terminates HTTPS with the Secret's certificate in front of the app",
  { skip: podRunnerSkip(['nginx', 'busybox']) },
  async (t) => {
    // The legacy app: plain HTTP on 127.0.0.1:8080 only.
    const app = {
      name: 'app',
      image: 'busybox:1.37.0',
      command: [
        'sh',
        '-c',
        `mkdir -p /tmp/www && echo legacy app > /tmp/www/index.html && ${untilStopped('httpd -f -p 127.0.0.1:8080 -h /tmp/www')}`,
      ],
      securityContext: restrictedApp,
      volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
      readinessProbe: { exec: { command: ['wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'] }, periodSeconds: 1 },
    };
    const pod = injectedPod(
      'sidecar',
      'https-proxy',
      { 'tls-secret': 'web-tls', 'upstream-port': '8080' },
      { containers: [app], volumes: [{ name: 'scratch', emptyDir: {} }] },
      'always',
    );
    const certs = await makeCertificates({ dnsNames: ['legacy-web.default.svc'] });
    const running = await runUntilReady(t, pod, { secrets: { 'web-tls': { 'tls.crt': certs.certPem, 'tls.key': certs.keyPem } } });
    t.match(
      running.states(),
      [
        { name: 'https-proxy', kind: 'sidecar' },
        { name: 'app', kind: 'app' },
      ],
      'nginx runs as a native sidecar, before the app',
    );

    const response = await httpsCall({
      host: running.ip,
      port: 8443,
      path: '/',
      method: 'GET',
      ca: certs.caCertPem,
      servername: 'legacy-web.default.svc',
    });
    t.equal(response.status, 200, 'HTTPS answered on the pod IP');
    t.equal(response.body.trim(), 'legacy app', 'the app answered through the proxy');
    t.equal(response.fingerprint, new X509Certificate(certs.certPem).fingerprint256, 'with the certificate from the Secret');
    await stopCleanly(t, running);
  },
);
