// `podpattern serve` as a real process: start on a fresh directory, drain on SIGTERM, refuse bad settings.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepSending } from './helpers/tls.js';
import { serve } from './helpers/process.js';
import { httpsProxyReview } from './helpers/review.js';

// Five processes started from the TypeScript sources, one of them drained for 8 s: under a
// minute on an idle 2-core machine, several on a loaded one; each wait inside is on a log line
// or an answer, so this timeout only ends a hang.
t.setTimeout(10 * 60_000);

const review = (uid: string): string => JSON.stringify(httpsProxyReview(uid));

/** Resolves once `check` holds; fails loudly after `ms` (generous: the machine may be busy, but a hang is a failure). */
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function readyz(port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    httpGet({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject),
  );
}

t.test('fresh directory: dev certificates generated; SIGTERM drains with reviews in flight, all succeed, exit 0', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-main-'));
  const server = serve(['--port=0', '--health-port=0', '--host=127.0.0.1', '--drain-seconds=8'], { cwd });
  t.teardown(() => {
    server.child.kill('SIGKILL');
  });
  const started = await server.waitFor((l) => l.msg === 'podpattern serving');
  const port = started.port as number;
  const healthPort = started.healthPort as number;
  t.ok(
    server.lines.some((l) => String(l.msg).startsWith('generated a development TLS certificate')),
    'dev certificate generation is logged',
  );
  const ca = readFileSync(join(cwd, 'certs', 'ca.crt'), 'utf8');
  t.ok(existsSync(join(cwd, 'certs', 'tls.key')));
  t.equal(await readyz(healthPort), 200, 'ready once serving');

  // Eight clients on keep-alive connections, like the API server's pool.
  const sending = keepSending({ port, ca, clients: 8, body: (n) => review(`uid-${n}`) });
  t.teardown(() => sending.stop());
  const { results, errors } = sending;
  await until(() => results.length >= 50, 'fifty reviews');

  // A slow request: headers and part of the body now, the rest once the listener has closed.
  let sendRest = (): void => undefined;
  const slow = new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        servername: 'localhost',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    const body = review('slow');
    req.write(body.slice(0, 100));
    sendRest = () => req.end(body.slice(100));
  });
  await until(() => server.lines.some((l) => l.msg === 'review'), 'a first review line');

  server.child.kill('SIGTERM');
  await server.waitFor((l) => l.msg === 'draining: /readyz fails, reviews still served');
  t.equal(await readyz(healthPort), 503, '/readyz fails at once');
  // Wait on the reviews themselves, not on the clock: some must be answered inside the window.
  const atDrain = results.length;
  await until(() => results.length >= atDrain + 5, 'five reviews answered during the drain');
  await sending.stop();
  const afterTerm = results.slice(atDrain);
  await server.waitFor((l) => l.msg === 'closing: no new connections; waiting for in-flight reviews');
  sendRest();

  t.same(errors, [], 'no review failed');
  t.ok(
    results.every((r) => r.status === 200 && JSON.parse(r.body).response.patchType === 'JSONPatch'),
    'every review injected',
  );
  t.ok(afterTerm.length > 0, `reviews were served during the drain (${afterTerm.length})`);
  t.ok(afterTerm.filter((r) => r.headers.connection === 'close').length > 0, 'responses in the drain close their connection');
  t.equal(await slow, 200, 'a review whose body was still arriving when the listener closed still completed');
  t.equal(await server.exit, 0, 'exit 0');
  t.ok(server.lines.some((l) => l.msg === 'stopped'));
  const reviewLines = server.lines.filter((l) => l.msg === 'review');
  t.equal(reviewLines.length, results.length + 1, 'one log line per review');
  t.match(reviewLines[0], {
    namespace: 'shop',
    pod: 'web',
    templates: ['https-proxy'],
    outcome: 'injected',
    reason: 'injected',
    dryRun: false,
    ms: Number,
  });
});

t.test('--help prints every flag and exits 0', async (t) => {
  const server = serve(['--help'], { cwd: tmpdir() });
  t.equal(await server.exit, 0);
  t.match(server.lines.map((l) => l.text).join('\n'), /--drain-seconds=VALUE[\s\S]*PODPATTERN_DRAIN_SECONDS/);
});

t.test('bad settings: every problem on stderr, exit 2', async (t) => {
  const server = serve(['--port=x', '--failure-mode=maybe'], { cwd: tmpdir(), env: { PODPATTERN_LOG_LEVEL: 'loud' } });
  t.equal(await server.exit, 2);
  for (const expected of [
    /3 problem\(s\)/,
    /--port: 'x'/,
    /--failure-mode: 'maybe'/,
    /PODPATTERN_LOG_LEVEL: 'loud'/,
    /--help' lists every flag/,
  ]) {
    t.match(server.stderr(), expected);
  }
});

t.test('explicit TLS files that are absent: a clear error, exit 1, nothing generated', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-main-'));
  const server = serve(['--port=0', '--health-port=0', '--tls-cert-file=/nonexistent/tls.crt', '--tls-key-file=/nonexistent/tls.key'], {
    cwd,
  });
  t.equal(await server.exit, 1);
  t.match(
    server.lines.find((l) => l.level === 60),
    { msg: 'podpattern serve cannot start', reason: /TLS files missing: \/nonexistent\/tls.crt and \/nonexistent\/tls.key does not exist/ },
  );
  t.notOk(existsSync(join(cwd, 'certs')));
});

t.test('an unreadable --catalog-dir: a clear error, exit 1', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'podpattern-main-'));
  const server = serve(['--port=0', '--health-port=0', '--catalog-dir=/nonexistent/templates'], { cwd });
  t.equal(await server.exit, 1);
  t.match(
    server.lines.find((l) => l.level === 60),
    { reason: /--catalog-dir \/nonexistent\/templates cannot be read/ },
  );
});
