// podpattern_tls_handshakes_total counts new connections to the webhook port, not reviews: a
// review on a fresh connection adds one, reviews on a kept-alive connection add none. The API
// server opens a connection per webhook call in flight beyond its idle ones, so this is what a
// burst of pod creations costs in handshakes.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsCall } from './helpers/tls.js';
import { serve } from './helpers/process.js';
import { review } from '../bench/hostile-reviews.js';

t.test('each new TLS connection counts once; reviews on a kept-alive one do not', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-handshakes-'));
  const server = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', '--drain-seconds=0'], { cwd });
  t.teardown(() => {
    server.child.kill('SIGKILL');
  });
  const line = await server.waitFor((l) => l.msg === 'podpattern serving', 120_000);
  const port = line.port as number;
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  const handshakes = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${line.healthPort as number}/metrics`)).text();
    return Number(/^podpattern_tls_handshakes_total (\S+)$/m.exec(text)?.[1]);
  };
  const body = (uid: string) => review(uid, { annotations: { 'podpattern.dev/sidecar': 'https-proxy' } });
  t.equal(await handshakes(), 0, 'none before the first connection');

  for (const uid of ['fresh-1', 'fresh-2', 'fresh-3']) {
    const answer = await httpsCall({ port, ca, body: body(uid) }); // agent false: a connection each
    t.equal(answer.status, 200, `${uid} answered`);
  }
  t.equal(await handshakes(), 3, 'three reviews on three connections: three handshakes');

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (const uid of ['kept-1', 'kept-2', 'kept-3', 'kept-4']) {
    const answer = await httpsCall({ port, ca, body: body(uid), agent });
    t.equal(answer.status, 200, `${uid} answered`);
  }
  t.equal(await handshakes(), 4, 'four more reviews on one kept-alive connection: one handshake');
});
