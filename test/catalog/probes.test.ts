// Templates whose probes cannot succeed in a pod are refused when the catalog loads them, for
// operators' templates and built-ins alike: the kubelet sends tcpSocket and httpGet probes to
// the pod IP, so a listener bound to 127.0.0.1 is never reached, and a probe port that no
// container of the template declares probes nothing the template runs.
import t from 'tap';
import { stringify } from 'yaml';
import { loadBuiltinTemplates, parseTemplates } from '../../src/catalog/index.js';

function template(container: Record<string, unknown>, files: Record<string, string> = {}): string {
  return stringify({
    apiVersion: 'podpattern.dev/v1alpha1',
    kind: 'PatternTemplate',
    metadata: { name: 'local-proxy' },
    spec: {
      pattern: 'ambassador',
      description: 'test',
      parameters: { port: { type: 'integer', default: 8090, minimum: 1024, maximum: 65535 } },
      containers: [{ name: 'proxy', image: 'example.org/proxy:1.0', ...container }],
      files,
    },
  });
}

const nginxLoopback = { 'nginx.conf': 'http {\n  server {\n    listen 127.0.0.1:$(params.port);\n  }\n}\n' };

function problemsOf(text: string): string[] {
  const parsed = parseTemplates(text, 'file:/etc/podpattern/local-proxy.yaml');
  return parsed.failures.flatMap((f) => f.problems);
}

t.test('a loopback-only listener probed on the pod IP is refused', async (t) => {
  const problems = problemsOf(template({ readinessProbe: { tcpSocket: { port: '$(params.port)' } } }, nginxLoopback));
  t.equal(problems.length, 1, problems.join('\n'));
  t.match(
    problems[0],
    /readinessProbe\.tcpSocket: port \$\(params\.port\) listens on loopback only \(spec\.files\.nginx\.conf\), but the kubelet sends tcpSocket probes to the pod IP/,
  );
  t.match(problems[0], /use an exec probe/, 'and says how to fix it');
});

t.test('the same through httpGet, a socat bind and a flag, in startup and liveness probes', async (t) => {
  t.match(problemsOf(template({ startupProbe: { httpGet: { port: 8090, path: '/' } } }, { 'nginx.conf': 'listen 127.0.0.1:8090;' })), [
    /startupProbe\.httpGet: port 8090 listens on loopback only/,
  ]);
  t.match(
    problemsOf(
      template({
        args: ['TCP-LISTEN:$(params.port),bind=127.0.0.1,fork', 'TCP:db:3306'],
        livenessProbe: { tcpSocket: { port: '$(params.port)' } },
      }),
    ),
    [/livenessProbe\.tcpSocket: port \$\(params\.port\) listens on loopback only \(spec\.containers\[0\] \(proxy\)\)/],
  );
  t.match(
    problemsOf(template({ args: ['--web.listen-address=localhost:9121'], readinessProbe: { httpGet: { port: 9121, path: '/health' } } })),
    [/port 9121 listens on loopback only/],
  );
});

t.test('a probe port that no container listens on is refused', async (t) => {
  t.match(problemsOf(template({ readinessProbe: { tcpSocket: { port: 9999 } } })), [
    /readinessProbe\.tcpSocket\.port: 9999 is not a containerPort of any container in this template/,
  ]);
  t.match(problemsOf(template({ readinessProbe: { httpGet: { port: 'metrics', path: '/' } } })), [
    /'metrics' is not the name of a port of container proxy/,
  ]);
  t.match(problemsOf(template({ ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080, host: '127.0.0.1' } } })), [
    /host: '127\.0\.0\.1' is the node's loopback/,
  ]);
});

t.test('a containerPort for a loopback-only listener is refused', async (t) => {
  t.match(problemsOf(template({ ports: [{ containerPort: '$(params.port)' }] }, nginxLoopback)), [
    /containerPort \$\(params\.port\) is a listener on loopback only/,
  ]);
});

t.test('probes that can succeed are accepted', async (t) => {
  const exec = { exec: { command: ['sh', '-c', 'test -e /tmp/ready'] } };
  t.same(problemsOf(template({ readinessProbe: exec }, nginxLoopback)), [], 'an exec probe of a loopback listener');
  t.same(
    problemsOf(
      template(
        { ports: [{ name: 'http', containerPort: '$(params.port)' }], readinessProbe: { httpGet: { port: 'http', path: '/' } } },
        { 'nginx.conf': 'listen $(params.port);' },
      ),
    ),
    [],
    'a named, declared port listening on every address',
  );
  t.same(
    problemsOf(template({ ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 } } })),
    [],
    'a declared numeric port',
  );
});

t.test('every built-in passes the same check', async (t) => {
  t.same(loadBuiltinTemplates().failures, []);
});
