// tls.mode=generate across upgrades: the chart's `lookup` keeps the CA and the serving
// certificate, renews the leaf with the same CA on request, and rotates the CA with an overlap
// (old and new CA both in the caBundle). helm renders against a fake API server that holds
// the Secrets of the "previous release" (startHelmApiServer, test/helpers/fake-apiserver.ts).
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { helmBinary } from '../../scripts/helm.mjs';
import { startHelmApiServer, type HelmApiServer } from '../helpers/fake-apiserver.js';
import { chartDir, find, parseManifests, type K8sObject } from './helpers.js';

const run = promisify(execFile);

/** Renders as an upgrade would: `lookup` sees the fake cluster. Async, so the fake server can answer. */
async function renderAgainst(api: HelmApiServer, set: string[] = []): Promise<K8sObject[]> {
  const args = [
    'template',
    'podpattern',
    chartDir,
    '--namespace',
    'podpattern',
    '--dry-run=server',
    '--disable-openapi-validation',
    '--kubeconfig',
    api.kubeconfig,
  ];
  for (const value of set) args.push(...(value.startsWith('--') ? [value] : ['--set', value]));
  const { stdout } = await run(helmBinary(), args, { maxBuffer: 16 * 1024 * 1024 });
  return parseManifests(stdout);
}

const certOf = (secret: K8sObject, key = 'tls.crt') => new X509Certificate(Buffer.from(secret.data[key], 'base64'));
const bundleOf = (objects: K8sObject[]): X509Certificate[] => {
  const pem = Buffer.from(find(objects, 'MutatingWebhookConfiguration').webhooks[0].clientConfig.caBundle, 'base64').toString();
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
};
const store = (api: HelmApiServer, objects: K8sObject[]) => {
  api.secrets.clear();
  for (const secret of objects.filter((o) => o.kind === 'Secret')) {
    // What helm writes on the objects of a release; without it helm refuses to adopt them.
    const stored = structuredClone(secret);
    stored.metadata.annotations = { 'meta.helm.sh/release-name': 'podpattern', 'meta.helm.sh/release-namespace': 'podpattern' };
    api.secrets.set(`${secret.metadata.namespace}/${secret.metadata.name}`, stored);
  }
};

t.test('generated certificates survive upgrades, renew, and rotate with overlap', async (t) => {
  const api = await startHelmApiServer();
  t.teardown(() => api.close());

  const install = await renderAgainst(api);
  t.ok(api.requests.includes('GET /api/v1/namespaces/podpattern/secrets/podpattern-ca'), 'the chart looked up its CA Secret');
  const firstCa = certOf(find(install, 'Secret', 'podpattern-ca'));
  const firstLeaf = certOf(find(install, 'Secret', 'podpattern-tls'));
  store(api, install);

  const upgrade = await renderAgainst(api);
  t.equal(certOf(find(upgrade, 'Secret', 'podpattern-ca')).fingerprint256, firstCa.fingerprint256, 'upgrade keeps the CA');
  t.equal(
    certOf(find(upgrade, 'Secret', 'podpattern-tls')).fingerprint256,
    firstLeaf.fingerprint256,
    'upgrade keeps the serving certificate',
  );
  t.same(
    bundleOf(upgrade).map((c) => c.fingerprint256),
    [firstCa.fingerprint256],
    'the caBundle is still that CA',
  );

  const renewed = await renderAgainst(api, ['tls.generate.renewLeaf=true']);
  const newLeaf = certOf(find(renewed, 'Secret', 'podpattern-tls'));
  t.not(newLeaf.fingerprint256, firstLeaf.fingerprint256, 'renewLeaf makes a new serving certificate');
  t.ok(newLeaf.verify(firstCa.publicKey), 'signed by the same CA, so the unchanged caBundle verifies it');
  t.same(
    bundleOf(renewed).map((c) => c.fingerprint256),
    [firstCa.fingerprint256],
  );

  // CA rotation as docs/install.md describes it: save the old CA, delete its Secret, upgrade with extraCABundle.
  const oldCaFile = join(mkdtempSync(join(tmpdir(), 'podpattern-old-ca-')), 'old-ca.crt');
  writeFileSync(oldCaFile, firstCa.toString());
  api.secrets.delete('podpattern/podpattern-ca');
  const rotated = await renderAgainst(api, [`--set-file=tls.extraCABundle=${oldCaFile}`]);
  const newCa = certOf(find(rotated, 'Secret', 'podpattern-ca'));
  const rotatedLeaf = certOf(find(rotated, 'Secret', 'podpattern-tls'));
  t.not(newCa.fingerprint256, firstCa.fingerprint256, 'a new CA');
  t.ok(rotatedLeaf.verify(newCa.publicKey), 'a new serving certificate from the new CA');
  t.same(
    bundleOf(rotated).map((c) => c.fingerprint256),
    [newCa.fingerprint256, firstCa.fingerprint256],
    'the caBundle trusts both during the switch',
  );
  t.ok(
    bundleOf(rotated).some((ca) => firstLeaf.verify(ca.publicKey)),
    'replicas still serving the old certificate keep working',
  );

  store(api, rotated);
  const retired = await renderAgainst(api);
  t.same(
    bundleOf(retired).map((c) => c.fingerprint256),
    [newCa.fingerprint256],
    'without extraCABundle only the new CA remains',
  );
  t.equal(
    certOf(find(retired, 'Secret', 'podpattern-tls')).fingerprint256,
    rotatedLeaf.fingerprint256,
    'and the new serving certificate is kept',
  );
});
