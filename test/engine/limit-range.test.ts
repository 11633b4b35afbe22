// The namespace's LimitRanges checked against the injected pod (src/engine/limit-range.ts), and
// per-pod sizing within a template's bounds (src/engine/sizing.ts): denied naming the LimitRange
// and the bound, what the pod's own containers break left to the API server.
import t from 'tap';
import type { V1LimitRange, V1LimitRangeItem } from '#kube';
import { applyPatch, inject, type InjectOptions, type PodLike } from '../../src/engine/index.js';
import { testCatalog } from '../helpers/catalog.js';

const catalog = testCatalog();

function pod(annotations: Record<string, string>, app: Record<string, unknown> = {}): PodLike {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'shop', annotations },
    spec: { containers: [{ name: 'app', image: 'x', ...app }] },
  };
}

function range(name: string, ...limits: V1LimitRangeItem[]): V1LimitRange {
  return { apiVersion: 'v1', kind: 'LimitRange', metadata: { name, namespace: 'shop' }, spec: { limits } };
}

function options(limitRanges: InjectOptions['limitRanges']): InjectOptions {
  return { nativeSidecars: 'always', namespace: 'shop', ...(limitRanges === undefined ? {} : { limitRanges }) };
}

const sized = { 'podpattern.dev/sidecar': 'demo-sized' };

t.test(
  'a container LimitRange the injected container breaks denies the pod, naming the LimitRange, the container and the fix',
  async (t) => {
    const result = inject(pod(sized), catalog, options([range('small', { type: 'Container', max: { cpu: '200m' } })]));
    t.match(result, { outcome: 'denied', reason: 'limit-range' });
    if (result.outcome !== 'denied') return;
    t.match(
      result.message,
      /LimitRange shop\/small \(per container\): template demo-sized's container 'demo-sized' limits cpu to 400m, above the maximum 200m; the API server would refuse the pod: set demo-sized\.podpattern\.dev\/cpu within it/,
    );
    t.equal(result.problems[0]?.template, 'demo-sized');

    const fits = inject(
      pod({ ...sized, 'demo-sized.podpattern.dev/cpu': '50m' }),
      catalog,
      options([range('small', { type: 'Container', max: { cpu: '200m' } })]),
    );
    t.equal(fits.outcome, 'injected', 'sized down, the pod fits: 50m request, 200m limit');
    if (fits.outcome === 'injected')
      t.same(applyPatch(pod(sized), fits.patch).spec?.initContainers?.[0]?.resources, {
        requests: { cpu: '50m', memory: '64Mi' },
        limits: { cpu: '200m', memory: '96Mi' },
      });
  },
);

t.test('min, a missing limit and the limit-to-request ratio are each named', async (t) => {
  const result = inject(
    pod({ 'podpattern.dev/adapter': 'demo-adapter' }),
    catalog,
    options([range('floors', { type: 'Container', min: { memory: '64Mi' }, max: { cpu: '1' }, maxLimitRequestRatio: { memory: '2' } })]),
  );
  if (result.outcome !== 'denied') throw new Error(result.outcome);
  const text = result.message;
  t.match(text, /container 'demo-adapter' requests memory 32Mi, below the minimum 64Mi/);
  t.match(text, /container 'demo-adapter' sets no cpu limit, and the maximum is 1/);
  t.match(text, /container 'demo-adapter' has a memory limit 128Mi over 2 times its request 32Mi/);
  t.match(text, /container 'demo-adapter-init' requests memory 32Mi, below the minimum 64Mi/, 'init containers too');
  t.notMatch(text, /container 'app'/, "the pod's own container is the API server's business");
});

t.test("a pod LimitRange: only what the injection adds to the totals is podpattern's", async (t) => {
  const own = { resources: { requests: { cpu: '300m', memory: '100Mi' }, limits: { cpu: '300m', memory: '100Mi' } } };
  const fits = inject(pod(sized, own), catalog, options([range('per-pod', { type: 'Pod', max: { cpu: '1' } })]));
  t.equal(fits.outcome, 'injected', '300m + 400m is within 1 cpu');
  const over = inject(pod(sized, own), catalog, options([range('per-pod', { type: 'Pod', max: { cpu: '600m' } })]));
  if (over.outcome !== 'denied') throw new Error(over.outcome);
  t.match(
    over.message,
    /LimitRange shop\/per-pod \(per pod\): with what podpattern adds, the pod limits cpu to 700m, above the maximum 600m/,
  );
  const already = inject(
    pod(sized, { resources: { requests: { cpu: '2' }, limits: { cpu: '2' } } }),
    catalog,
    options([range('per-pod', { type: 'Pod', max: { cpu: '1' } })]),
  );
  t.equal(already.outcome, 'injected', "the pod breaks it alone: not podpattern's denial");
});

t.test('no LimitRange, other kinds and malformed ones pass; an unreadable list is a warning', async (t) => {
  t.equal(inject(pod(sized), catalog, options([])).outcome, 'injected');
  t.equal(
    inject(pod(sized), catalog, options([range('claims', { type: 'PersistentVolumeClaim', max: { storage: '1Gi' } })])).outcome,
    'injected',
  );
  const malformed = [
    {
      metadata: { name: 'odd', namespace: 'shop' },
      spec: { limits: [null, { type: 'Container', max: 'x' }, { type: 'Container', max: { cpu: 'lots' } }] },
    },
  ] as unknown as V1LimitRange[];
  t.equal(inject(pod(sized), catalog, options(malformed)).outcome, 'injected', 'malformed items are skipped, never thrown');
  const unreadable = inject(pod(sized), catalog, options('unreadable'));
  t.equal(unreadable.outcome, 'injected');
  t.match(unreadable.warnings.join('\n'), /could not read this namespace's LimitRanges/);
});

t.test(
  "sizing: the request within the template's bounds, each limit in the template's ratio, written as the API server stores it",
  async (t) => {
    const result = inject(
      pod({ ...sized, 'demo-sized.podpattern.dev/cpu': '0.3', 'demo-sized.podpattern.dev/memory': '0.5Gi' }),
      catalog,
      options(undefined),
    );
    if (result.outcome !== 'injected') throw new Error(result.outcome);
    t.same(result.pod.spec?.initContainers?.[0]?.resources, {
      requests: { cpu: '300m', memory: '512Mi' },
      limits: { cpu: '1200m', memory: '768Mi' },
    });
    t.same(result.parameters['demo-sized'], { cpu: '0.3', memory: '0.5Gi' }, 'the parameters in force');
    t.match(
      inject(result.pod, catalog, options(undefined)),
      { outcome: 'skipped', reason: 'already-injected' },
      'injecting again changes nothing',
    );
    const bounds = inject(
      pod({ ...sized, 'demo-sized.podpattern.dev/cpu': '10m', 'demo-sized.podpattern.dev/memory': '2Gi' }),
      catalog,
      options(undefined),
    );
    if (bounds.outcome !== 'denied') throw new Error(bounds.outcome);
    t.match(bounds.message, /'10m' is below the template's minimum cpu request 50m \(sizing\.cpu\.min\)/);
    t.match(bounds.message, /'2Gi' is above the template's maximum memory request 1Gi \(sizing\.memory\.max\)/);
  },
);
