// Shared pieces for the server tests: reviews, a fake catalog and a fake engine, and deps that
// capture log lines through a stream.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Catalog } from '../../src/model/template.js';
import type { InjectionResult, PodLike } from '../../src/engine/types.js';
import { createMetrics } from '../../src/metrics/index.js';
import type { AppDeps } from '../../src/server/app.js';
import { Lifecycle } from '../../src/server/lifecycle.js';

/** A CREATE review of a pod: a small one built from the options, or `object` as given. */
export function podReview(
  options: {
    uid?: string;
    apiVersion?: string;
    annotations?: Record<string, string>;
    dryRun?: boolean;
    name?: string;
    generateName?: string;
    namespace?: string;
    object?: PodLike;
  } = {},
): Record<string, unknown> {
  const metadata: Record<string, unknown> = { annotations: options.annotations ?? {} };
  if (options.generateName !== undefined) metadata.generateName = options.generateName;
  else metadata.name = options.name ?? 'web';
  return {
    apiVersion: options.apiVersion ?? 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: options.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: options.namespace ?? 'shop',
      operation: 'CREATE',
      userInfo: { username: 'admin' },
      object: options.object ?? { apiVersion: 'v1', kind: 'Pod', metadata, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } },
      dryRun: options.dryRun ?? false,
    },
  };
}

export const fakeCatalog: Catalog = {
  get: () => undefined,
  list: () => [],
  failure: () => undefined,
  failures: () => [],
};

/** Decides by annotation, like the engine would: sidecar=demo injects, sidecar=nope denies, nothing skips. */
export function fakeInject(pod: PodLike): InjectionResult {
  const wanted = pod.metadata?.annotations?.['podpattern.dev/sidecar'];
  if (wanted === 'boom') throw new Error('engine exploded');
  if (wanted === 'nope') {
    const problem = {
      code: 'unknown-template' as const,
      template: 'nope',
      message: "template 'nope' is not in the catalog; run 'podpattern templates' for the list",
    };
    return { outcome: 'denied', reason: 'unknown-template', problems: [problem], message: `podpattern: ${problem.message}`, warnings: [] };
  }
  if (wanted === 'demo') {
    const patch = [{ op: 'add' as const, path: '/spec/containers/-', value: { name: 'demo', image: 'busybox:1.36' } }];
    return {
      outcome: 'injected',
      reason: 'injected',
      templates: [{ name: 'demo', pattern: 'sidecar', hash: 'abc' }],
      parameters: {},
      pod: { ...pod },
      patch,
      warnings: ['a friendly warning'],
    };
  }
  return { outcome: 'skipped', reason: 'not-requested', warnings: [] };
}

export interface CapturedDeps extends AppDeps {
  lines: () => Record<string, unknown>[];
}

export function testDeps(overrides: Partial<AppDeps> = {}): CapturedDeps {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger: Logger = pino({ level: 'debug' }, stream);
  return {
    logger,
    metrics: createMetrics({ processMetrics: false }),
    lifecycle: new Lifecycle(),
    inject: fakeInject,
    catalog: () => fakeCatalog,
    nativeSidecars: 'auto',
    failureMode: 'open',
    ...overrides,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
