// The chart's TLS and network modes, rendered by a real helm: generated certificates verify and
// name the Service, cert-manager and a provided Secret wire the pods, the NetworkPolicy and client
// authentication render what their values say.
import { X509Certificate } from 'node:crypto';
import t from 'tap';
import { validateCertificatePair } from '../../src/certs/load.js';
import { find, helm, chartDir, type K8sObject } from './helpers.js';
import { renderScenario } from './chart-scenarios.js';

const render = (name: string): K8sObject[] => renderScenario(name).objects;

t.test('generated certificates: the caBundle verifies the serving certificate, which names the Service', async (t) => {
  const objects = render('default');
  const deployment = find(objects, 'Deployment');
  const secretName = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName;
  const secret = find(objects, 'Secret', secretName);
  t.equal(secret.type, 'kubernetes.io/tls');
  const leaf = new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64'));
  for (const webhook of find(objects, 'MutatingWebhookConfiguration').webhooks) {
    const ca = new X509Certificate(Buffer.from(webhook.clientConfig.caBundle, 'base64'));
    t.ok(leaf.verify(ca.publicKey) && leaf.checkIssued(ca), `${webhook.name}: caBundle signed the serving certificate`);
  }
  for (const host of ['podpattern', 'podpattern.podpattern', 'podpattern.podpattern.svc'])
    t.equal(leaf.checkHost(host), host, `serves ${host}`);
  const pem = (key: string) => Buffer.from(secret.data[key], 'base64').toString();
  t.doesNotThrow(() => validateCertificatePair(pem('tls.crt'), pem('tls.key')), 'the server accepts the pair (src/certs/load.ts)');
  const caSecret = find(objects, 'Secret', 'podpattern-ca');
  // ECDSA P-256: a cheaper handshake per connection the API server opens (the template says why).
  for (const [name, key] of [
    ['serving', leaf.publicKey],
    ['CA', new X509Certificate(Buffer.from(caSecret.data['tls.crt'], 'base64')).publicKey],
  ] as const)
    t.match(
      { type: key.asymmetricKeyType, curve: key.asymmetricKeyDetails?.namedCurve },
      { type: 'ec', curve: 'prime256v1' },
      `the ${name} key is P-256`,
    );
  t.notOk(
    deployment.spec.template.spec.volumes.some((v: { secret?: { secretName: string } }) => v.secret?.secretName === caSecret.metadata.name),
    'the CA key is not mounted into the pods',
  );
});

t.test('cert-manager mode: a Certificate for the Secret the pods mount, and cainjector fills the caBundle', async (t) => {
  for (const name of ['cert-manager, self-signed CA', 'cert-manager, own ClusterIssuer']) {
    const objects = render(name);
    t.notOk(
      objects.some((o) => o.kind === 'Secret'),
      `${name}: the chart makes no Secret`,
    );
    const mwc = find(objects, 'MutatingWebhookConfiguration');
    const [namespace, certName] = mwc.metadata.annotations['cert-manager.io/inject-ca-from'].split('/');
    const certificate = find(objects, 'Certificate', certName);
    t.equal(namespace, certificate.metadata.namespace);
    const mounted = find(objects, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret
      .secretName;
    t.equal(certificate.spec.secretName, mounted, `${name}: the Certificate writes the mounted Secret`);
    t.same(certificate.spec.dnsNames, ['podpattern', 'podpattern.podpattern', 'podpattern.podpattern.svc']);
    for (const webhook of mwc.webhooks)
      t.notOk('caBundle' in webhook.clientConfig, `${name}: ${webhook.name} leaves caBundle to cainjector`);
  }
  const selfSigned = render('cert-manager, self-signed CA');
  const caIssuer = find(selfSigned, 'Issuer', 'podpattern-ca');
  t.equal(find(selfSigned, 'Certificate', 'podpattern-serving').spec.issuerRef.name, caIssuer.metadata.name);
  t.equal(find(selfSigned, 'Certificate', 'podpattern-ca').spec.isCA, true);
  const own = render('cert-manager, own ClusterIssuer');
  t.notOk(
    own.some((o) => o.kind === 'Issuer'),
    'no chart Issuer with an issuerRef',
  );
  t.match(find(own, 'Certificate').spec.issuerRef, { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
});

t.test('provided Secret mode: mounts it and uses the given caBundle', async (t) => {
  const objects = render('provided Secret');
  t.notOk(objects.some((o) => o.kind === 'Secret' || o.kind === 'Certificate'));
  t.equal(
    find(objects, 'Deployment').spec.template.spec.volumes.find((v: { name: string }) => v.name === 'tls').secret.secretName,
    'my-tls',
  );
  const bundle = Buffer.from(find(objects, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, 'base64').toString();
  t.match(bundle, /^-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n/);
});

t.test("NetworkPolicy, on by default: both ports from anywhere (the API server's address is not known), nothing else", async (t) => {
  const objects = render('default');
  const policy = find(objects, 'NetworkPolicy');
  const deployment = find(objects, 'Deployment');
  t.same(policy.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels);
  t.same(policy.spec.policyTypes, ['Ingress'], 'ingress only: egress to the API server stays open');
  const portNames = deployment.spec.template.spec.containers[0].ports.map((p: { name: string }) => p.name).sort();
  t.same(
    policy.spec.ingress.map((rule: { ports: Array<{ port: string }> }) => rule.ports[0]?.port).sort(),
    portNames,
    'one rule per container port',
  );
  for (const rule of policy.spec.ingress) t.equal(rule.from, undefined, `${rule.ports[0].port}: from any source`);
  t.notOk(
    render('NetworkPolicy off').some((o) => o.kind === 'NetworkPolicy'),
    'networkPolicy.enabled=false removes it',
  );
});

t.test('NetworkPolicy: webhookExceptCIDRs keeps pods off the webhook port, per address family', async (t) => {
  const policy = find(render('NetworkPolicy without the pod CIDRs'), 'NetworkPolicy');
  const webhook = policy.spec.ingress.find((rule: { ports: Array<{ port: string }> }) => rule.ports[0]?.port === 'https');
  t.same(webhook.from, [
    { ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] } },
    { ipBlock: { cidr: '::/0', except: ['fd00:10:244::/56'] } },
  ]);
  const health = policy.spec.ingress.find((rule: { ports: Array<{ port: string }> }) => rule.ports[0]?.port === 'http-health');
  t.equal(health.from, undefined, 'the health port stays open to the kubelet and scrapers');
});

t.test('client authentication: the CA Secret mounted (not by subPath, so it reloads) and both flags set', async (t) => {
  const deployment = find(render('client authentication'), 'Deployment');
  const spec = deployment.spec.template.spec;
  const container = spec.containers[0];
  t.ok(container.args.includes('--client-auth=events'));
  t.ok(container.args.includes('--client-ca-file=/etc/podpattern/client-ca/ca.crt'));
  const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'client-ca');
  t.match(mount, { mountPath: '/etc/podpattern/client-ca', readOnly: true });
  t.equal(mount.subPath, undefined);
  t.match(
    spec.volumes.find((v: { name: string }) => v.name === 'client-ca'),
    { secret: { secretName: 'apiserver-client-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
  );
  const plain = find(render('default'), 'Deployment').spec.template.spec.containers[0];
  t.notOk(
    plain.args.some((a: string) => a.startsWith('--client-')),
    'off by default: no client flags',
  );
  const missing = helm(['template', 'x', chartDir, '--set', 'clientAuth.mode=required']);
  t.not(missing.status, 0, 'a mode without a CA Secret is refused');
  t.match(missing.stderr, /clientAuth\.caSecret/);
});
