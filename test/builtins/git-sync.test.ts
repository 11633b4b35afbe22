// git-sync has no Debian package, so the pod runner cannot run its image: this test checks the
// template against git-sync v4's documented interface instead (its README, "OPTIONS": each flag
// and its $GITSYNC_* variable; the image runs as 65533:65533), and checks from the injected pod
// that the app cannot start before the first checkout exists.
import type { V1Container, V1Pod } from '#kube';
import t from 'tap';
import { injectedPod } from '../podrunner/builtin.js';

/** The GITSYNC_* variables that git-sync v4 documents (a misspelt one is silently ignored). */
const DOCUMENTED = new Set(
  [
    'ADD_USER',
    'ASKPASS_URL',
    'COOKIE_FILE',
    'DEPTH',
    'ERROR_FILE',
    'EXECHOOK_BACKOFF',
    'EXECHOOK_COMMAND',
    'EXECHOOK_TIMEOUT',
    'GIT',
    'GIT_CONFIG',
    'GIT_GC',
    'GROUP_WRITE',
    'HTTP_BIND',
    'HTTP_METRICS',
    'HTTP_PPROF',
    'LINK',
    'MAX_FAILURES',
    'ONE_TIME',
    'PASSWORD',
    'PASSWORD_FILE',
    'PERIOD',
    'REF',
    'REPO',
    'ROOT',
    'SPARSE_CHECKOUT_FILE',
    'SSH',
    'SSH_KEY_FILE',
    'SSH_KNOWN_HOSTS',
    'SSH_KNOWN_HOSTS_FILE',
    'STALE_WORKTREE_TIMEOUT',
    'SUBMODULES',
    'SYNC_ON_SIGNAL',
    'SYNC_TIMEOUT',
    'TOUCH_FILE',
    'USERNAME',
    'WEBHOOK_BACKOFF',
    'WEBHOOK_METHOD',
    'WEBHOOK_SUCCESS_STATUS',
    'WEBHOOK_TIMEOUT',
    'WEBHOOK_URL',
  ].map((name) => `GITSYNC_${name}`),
);

const app = { name: 'web', image: 'example.org/site:1.0' };
const parameters = { repo: 'https://github.com/kubernetes/git-sync', period: '30', depth: '1' };
const env = (c: V1Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value]));
const find = (pod: V1Pod, name: string) =>
  [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === name);

for (const mode of ['never', 'always'] as const) {
  t.test(`git-sync (${mode === 'always' ? 'native' : 'classic'} sidecar) against git-sync's documented interface`, async (t) => {
    const pod = injectedPod('sidecar', 'git-sync', parameters, { containers: [app] }, mode);
    const init = find(pod, 'git-sync-init');
    const sidecar = find(pod, 'git-sync');
    for (const c of [init, sidecar]) {
      t.ok(c, 'the container is there');
      t.equal(c?.command, undefined, `${c?.name}: the image's entrypoint (git-sync) runs`);
      const unknown = (c?.env ?? []).map((e) => e.name).filter((name) => name.startsWith('GITSYNC_') && !DOCUMENTED.has(name));
      t.same(unknown, [], `${c?.name}: every GITSYNC_* variable is a documented one`);
      t.match(
        c?.securityContext,
        { runAsUser: 65533, runAsGroup: 65533, readOnlyRootFilesystem: true },
        `${c?.name}: the image's user, read-only root`,
      );
      t.match(c?.volumeMounts, [{ mountPath: '/git' }, { mountPath: '/tmp' }], `${c?.name}: a writable --root and HOME`);
    }
    t.match(
      env(init),
      { GITSYNC_ONE_TIME: 'true', GITSYNC_REPO: parameters.repo, GITSYNC_ROOT: '/git', GITSYNC_LINK: 'current' },
      'the init container makes one checkout and exits',
    );
    t.equal(env(sidecar).GITSYNC_ONE_TIME, undefined, 'the sidecar keeps syncing');
    t.equal(env(sidecar).GITSYNC_PERIOD, '30s', 'every period (a Go duration)');
    const inits = (pod.spec?.initContainers ?? []).map((c) => c.name);
    t.equal(inits[0], 'git-sync-init', 'the one-time checkout runs before anything else, so the app never starts on an empty volume');
    if (mode === 'always') t.same(inits, ['git-sync-init', 'git-sync'], 'then the native sidecar');
    t.match(
      find(pod, 'web')?.volumeMounts,
      [{ name: 'git-sync-root', mountPath: '/srv/git', readOnly: true }],
      'the app reads the checkout at <mount-path>/current',
    );
  });
}
