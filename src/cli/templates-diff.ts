// `podpattern templates diff -f NEW [--manifests DIR]`: what a new version of PatternTemplates
// would do to the next pods of the workloads that use them, before it is applied. Live (the
// default): the workloads are those whose pods run the template now, read from the cluster as
// metadata, as the server's index keeps them, and the verdicts are the ones the server's
// impact check would give. Offline (--manifests DIR, for GitOps pipelines): the workloads are
// the manifests in DIR, rendered whole (their own containers and ports too), against the
// built-in catalog, --catalog-dir and the PatternTemplates found in DIR. Exit 1 when any
// workload breaks. `--live` with no file is the check before upgrading podpattern itself: this
// version's built-ins against what the cluster's pods run (one pod of each workload read whole).
import { CoreV1Api, type KubeConfig } from '#kube';
import { buildCatalog, loadStaticLayers, type ParsedTemplates } from '../catalog/index.js';
import { validateTemplate } from '../catalog/validate.js';
import { templateOfObject } from '../catalog/live.js';
import { fetchServerVersion } from '../catalog/kube.js';
import { inject } from '../engine/index.js';
import type { InjectOptions, PodLike } from '../engine/types.js';
import { isOwnKey } from '../model/keys.js';
import { TEMPLATE_KIND, type Catalog, type Template } from '../model/template.js';
import {
  breaking,
  byWorkload,
  checkImpact,
  judgePod,
  nextPod,
  nextPodOptions,
  type ImpactReport,
  type OwnerImpact,
  type Verdict,
} from '../impact/check.js';
import { injectedDifferences } from '../impact/running.js';
import type { Usage } from '../impact/pod-index.js';
import { InjectedPodIndex } from '../impact/pod-index.js';
import { OwnerResolver } from '../impact/owners.js';
import { ownerLookup, podMetadataClient } from '../impact/pod-kube.js';
import { INJECTED_SELECTOR } from '../impact/pod-watch.js';
import { engineOptions, parseFlags, processIo, readAll, type Io } from './common.js';
import { objectsOf } from './manifests.js';
import { asStoredAnnotations, labelOf } from '../engine/manifest.js';
import { findPodTemplate } from '../engine/pod-template.js';
import { ClusterError, call, connect, explainFailure } from './kube/connect.js';
import { clusterCatalog } from './check/pods.js';
import type { Finding } from './check/findings.js';

const HELP = `usage: podpattern templates diff -f NEW.yaml [--manifests DIR [--catalog-dir DIR]] [--kubeconfig FILE] [--context NAME]
       podpattern templates diff --live [--kubeconfig FILE] [--context NAME]

For each PatternTemplate in NEW.yaml, each workload that uses it and its verdict: breaking (its
next pods would be denied, and why), changing (they would differ: which containers and fields),
or neutral. Exit 1 when any workload breaks.
  -f, --filename     the new version of the template(s)
  --manifests DIR    offline: the workloads are the manifests in DIR (with any PatternTemplates
                     there as the current versions); without it, the cluster's injected pods
  --catalog-dir DIR  offline: templates the server also reads from --catalog-dir
  --native-sidecars, --kube-version   offline: as for 'podpattern inject'
  --live             with no -f: this podpattern's built-ins against what the cluster's pods
                     run (the check before 'helm upgrade'): per workload, its next pod from this
                     version against the injected containers of one of its running pods
`;

interface Flags {
  filename?: string;
  manifests?: string;
  'catalog-dir'?: string;
  kubeconfig?: string;
  context?: string;
  live?: boolean;
  'native-sidecars'?: string;
  'kube-version'?: string;
}

export async function run(argv: string[], io: Io = processIo): Promise<number> {
  const parsed = parseFlags<Flags>(
    'templates diff',
    argv,
    {
      filename: { type: 'string', short: 'f' },
      manifests: { type: 'string' },
      'catalog-dir': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      live: { type: 'boolean' },
      'native-sidecars': { type: 'string' },
      'kube-version': { type: 'string' },
    },
    HELP,
    io,
  );
  if ('exit' in parsed) return parsed.exit;
  const values = parsed.values;
  if (values.filename === undefined && values.live === true && values.manifests === undefined) return report(() => upgrade(values, io), io);
  if (values.filename === undefined) {
    io.stderr(`podpattern templates diff: -f NEW.yaml (or --live alone, before an upgrade) is required\n${HELP}`);
    return 2;
  }
  const next = readTemplates([values.filename], io);
  if (next === undefined) return 1;
  if (next.length === 0) {
    io.stderr(`podpattern templates diff: ${values.filename} holds no ${TEMPLATE_KIND}\n`);
    return 1;
  }
  const manifests = values.manifests;
  return report(async () => (manifests === undefined ? live(next, values, io) : offline(next, manifests, values, io)), io);
}

/** Prints the reports; exit 1 when any workload breaks (or the reports could not be made). */
async function report(make: () => Promise<TemplateReport[] | undefined> | TemplateReport[] | undefined, io: Io): Promise<number> {
  try {
    const reports = await make();
    if (reports === undefined) return 1;
    io.stdout(reports.length === 0 ? 'no injected pod runs a built-in template\n' : reports.map(formatReport).join('\n'));
    return reports.some((r) => r.report.breaking.length > 0) ? 1 : 0;
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error;
    io.stderr(`podpattern templates diff: ${error.message}\n`);
    return 1;
  }
}

export interface TemplateReport {
  template: string;
  from: string | undefined;
  to: string;
  report: ImpactReport;
}

/** The PatternTemplates of the files, validated; undefined (after saying why) when any is unreadable or invalid. */
function readTemplates(files: string[], io: Io): Template[] | undefined {
  const { documents, problems } = readAll(files, false, io);
  for (const problem of problems) io.stderr(`podpattern templates diff: ${problem}\n`);
  if (problems.length > 0) return undefined;
  const templates: Template[] = [];
  let invalid = false;
  for (const object of objectsOf(documents).filter(isTemplateObject)) {
    const verdict = validateTemplate(
      templateOfObject(object),
      'cluster',
      (object as { metadata?: { name?: string } }).metadata?.name ?? 'unnamed',
    );
    if (verdict.ok) templates.push(verdict.template);
    else {
      invalid = true;
      io.stderr(
        `podpattern templates diff: ${TEMPLATE_KIND} ${verdict.name} is invalid:\n${verdict.problems.map((p) => `  - ${p}`).join('\n')}\n`,
      );
    }
  }
  return invalid ? undefined : templates;
}

function isTemplateObject(object: unknown): boolean {
  return (object as { kind?: unknown } | null)?.kind === TEMPLATE_KIND;
}

/** The catalog with `templates` put in as cluster templates (they override by name). */
function withTemplates(catalog: Catalog, templates: Template[]): Catalog {
  const layer: ParsedTemplates = { templates: catalog.list().filter((t) => !templates.some((n) => n.name === t.name)), failures: [] };
  return buildCatalog([layer, { templates, failures: [] }]);
}

async function live(next: Template[], values: Flags, io: Io): Promise<TemplateReport[]> {
  const config = connect(values.kubeconfig, values.context);
  const findings: Finding[] = [];
  const before = await clusterCatalog(config, findings);
  for (const finding of findings) io.stderr(`warning: ${finding.message}\n`);
  const after = withTemplates(before, next);
  const index = await readIndex(config);
  const namespaces = await namespaceAnnotations(config, io);
  const options = await clusterOptions(config, namespaces, io);
  return next.map((template) => ({
    template: template.name,
    from: before.get(template.name)?.hash,
    to: template.hash,
    report: checkImpact({ usages: index.usages(template.name), before, after, inject, options, maxOwners: Number.MAX_SAFE_INTEGER }),
  }));
}

/** The engine's options per namespace as the server would have them: its version, the namespace's defaults. */
async function clusterOptions(
  config: KubeConfig,
  namespaces: Map<string, Record<string, string>>,
  io: Io,
): Promise<(namespace: string) => InjectOptions> {
  let serverVersion: InjectOptions['serverVersion'];
  try {
    serverVersion = await fetchServerVersion(config);
  } catch (error) {
    io.stderr(`warning: ${explainFailure(error, 'read the server version', config)}; assuming classic sidecars\n`);
  }
  return (namespace) => ({
    nativeSidecars: 'auto',
    namespace,
    namespaceAnnotations: namespaces.get(namespace) ?? {},
    ...(serverVersion === undefined ? {} : { serverVersion }),
  });
}

/**
 * `--live` with no file: each built-in of this version that injected pods run (and that no
 * cluster PatternTemplate overrides) against those pods. A workload whose pods all record this
 * version's hash is neutral unread; otherwise one of its pods is read whole and its injected part
 * compared with that of its next pod from this version.
 */
async function upgrade(values: Flags, io: Io): Promise<TemplateReport[]> {
  const config = connect(values.kubeconfig, values.context);
  const findings: Finding[] = [];
  const catalog = await clusterCatalog(config, findings);
  for (const finding of findings) io.stderr(`warning: ${finding.message}\n`);
  const index = await readIndex(config);
  const options = await clusterOptions(config, await namespaceAnnotations(config, io), io);
  const core = config.makeApiClient(CoreV1Api);
  const reports: TemplateReport[] = [];
  for (const template of catalog.list()) {
    const usages = index.usages(template.name);
    if (usages.length === 0) continue;
    if (template.source !== 'builtin') {
      io.stderr(`${template.name}: the cluster's ${TEMPLATE_KIND} overrides the built-in; an upgrade does not change it\n`);
      continue;
    }
    const report: ImpactReport = { breaking: [], changing: [], neutral: [], unchecked: 0 };
    const hashes = new Set<string>();
    for (const usage of usages.sort(byWorkload)) {
      for (const hash of usage.hashes) hashes.add(hash);
      const verdict = usage.hashes.every((hash) => hash === template.hash)
        ? ({ kind: 'neutral' } as const)
        : await againstRunning(usage, template, index.podNames(template.name, usage));
      if (verdict === undefined) report.unchecked += 1;
      else report[verdict.kind].push({ usage, verdict });
    }
    reports.push({ template: template.name, from: [...hashes].sort().join(', '), to: template.hash, report });
  }
  return reports;

  async function againstRunning(usage: Usage, template: Template, pods: string[]): Promise<Verdict | undefined> {
    const next = inject(nextPod(usage), catalog, nextPodOptions(usage, options));
    if (next.outcome === 'denied') return breaking(next.problems);
    if (next.outcome === 'skipped') return { kind: 'changing', fields: [`no longer injected (${next.reason})`] };
    // A pod may be gone between the list and the read: the next one of the workload serves.
    for (const name of pods.slice(0, MAX_PODS_READ)) {
      const running = await core.readNamespacedPod({ name, namespace: usage.namespace }).catch(() => undefined);
      const fields = running === undefined ? undefined : injectedDifferences(running as PodLike, next.pod);
      if (fields !== undefined) return fields.length === 0 ? { kind: 'neutral' } : { kind: 'changing', fields };
    }
    io.stderr(
      `warning: no pod of ${usage.namespace} ${usage.workload.kind}/${usage.workload.name} could be read to compare ${template.name} with\n`,
    );
    return undefined;
  }
}

/** Pods of one workload tried before its comparison is given up (each is one GET). */
const MAX_PODS_READ = 3;

/** The cluster's injected pods, as the server's index keeps them, with their workloads resolved. */
export async function readIndex(config: KubeConfig): Promise<InjectedPodIndex> {
  const resolver = new OwnerResolver({ lookup: ownerLookup(config) });
  const index = new InjectedPodIndex({ resolver, maxPods: Number.MAX_SAFE_INTEGER });
  const client = podMetadataClient(config);
  const build = index.rebuild();
  let next: string | undefined;
  do {
    const page = await call('list injected pods (metadata)', config, () =>
      client.list({ labelSelector: INJECTED_SELECTOR, limit: 500, ...(next === undefined ? {} : { continue: next }) }),
    );
    for (const item of page.items) build.add(item.metadata);
    next = page.metadata?.continue || undefined;
  } while (next !== undefined);
  build.commit();
  // Each pod's workload was asked for as it entered the index: wait for the answers.
  await resolver.idle();
  return index;
}

/** The podpattern annotations of every namespace (their defaults); a failure is a warning. */
export async function namespaceAnnotations(config: KubeConfig, io: Io): Promise<Map<string, Record<string, string>>> {
  const found = new Map<string, Record<string, string>>();
  try {
    for (const ns of (await config.makeApiClient(CoreV1Api).listNamespace()).items) {
      found.set(
        ns.metadata?.name ?? '',
        Object.fromEntries(Object.entries(ns.metadata?.annotations ?? {}).filter(([key]) => isOwnKey(key))),
      );
    }
  } catch (error) {
    io.stderr(`warning: ${explainFailure(error, 'list namespaces', config)}; namespace defaults are not applied\n`);
  }
  return found;
}

function offline(next: Template[], dir: string, values: Flags, io: Io): TemplateReport[] | undefined {
  const { documents, problems } = readAll([dir], true, io);
  for (const problem of problems) io.stderr(`podpattern templates diff: ${problem}\n`);
  if (problems.length > 0) return undefined;
  const objects = objectsOf(documents);
  const current: ParsedTemplates = { templates: [], failures: [] };
  for (const object of objects.filter(isTemplateObject)) {
    const verdict = validateTemplate(
      templateOfObject(object),
      'cluster',
      (object as { metadata?: { name?: string } }).metadata?.name ?? 'unnamed',
    );
    if (verdict.ok) current.templates.push(verdict.template);
  }
  const before = buildCatalog([...loadStaticLayers(values['catalog-dir']), current]);
  const after = withTemplates(before, next);
  const base = engineOptions(values);
  return next.map((template) => {
    const report: ImpactReport = { breaking: [], changing: [], neutral: [], unchecked: 0 };
    for (const object of objects) {
      const found = findPodTemplate(object);
      if (!('found' in found)) continue;
      const pod = asStoredAnnotations(found.template);
      const meta = (object as { metadata?: { name?: string; namespace?: string } }).metadata ?? {};
      const namespace = meta.namespace ?? base.namespace ?? 'default';
      const options: InjectOptions = {
        ...base,
        namespace,
        podNameHint: `${meta.name ?? 'pod'}-`,
        ...(found.found.runsToCompletion ? { runsToCompletion: true } : {}),
        ...(found.found.controllerVolumes.length > 0 ? { controllerVolumes: found.found.controllerVolumes } : {}),
      };
      if (!usesTemplate(pod, template.name, before, after, options)) continue;
      const [kind, name] = labelOf(object).split('/') as [string, string];
      const verdict = judgePod(pod, options, { before, after, inject });
      report[verdict.kind].push({ usage: { namespace, workload: { kind, name }, asked: {}, pods: 0, hashes: [] }, verdict });
    }
    return { template: template.name, from: before.get(template.name)?.hash, to: template.hash, report };
  });
}

/** Whether the pod template asks for the template (with either version): the engine injects it, or names it in a denial. */
function usesTemplate(pod: Parameters<typeof inject>[0], name: string, before: Catalog, after: Catalog, options: InjectOptions): boolean {
  return [before, after].some((catalog) => {
    const result = inject(pod, catalog, options);
    if (result.outcome === 'injected') return result.templates.some((t) => t.name === name);
    return result.outcome === 'denied' && result.problems.some((p) => p.template === name || p.message.includes(`'${name}'`));
  });
}

export function formatReport({ template, from, to, report }: TemplateReport): string {
  const lines = [`${TEMPLATE_KIND} ${template}: ${from === undefined ? 'new' : from === to ? `${to} (unchanged)` : `${from} -> ${to}`}`];
  const all = [...report.breaking, ...report.changing, ...report.neutral];
  if (all.length === 0) lines.push('  no workload uses it');
  for (const owner of all) lines.push(`  ${line(owner)}`);
  if (report.unchecked > 0) lines.push(`  not checked: ${report.unchecked} owners`);
  lines.push(`  ${report.breaking.length} breaking, ${report.changing.length} changing, ${report.neutral.length} neutral`);
  return `${lines.join('\n')}\n`;
}

function line({ usage, verdict }: OwnerImpact): string {
  const who = `${usage.namespace} ${usage.workload.kind}/${usage.workload.name}${usage.pods > 0 ? ` (${usage.pods} pod${usage.pods === 1 ? '' : 's'})` : ''}`;
  if (verdict.kind === 'breaking') return `breaking  ${who}: ${verdict.reasons.join('; ')}`;
  if (verdict.kind === 'changing') return `changing  ${who}: ${verdict.fields.join(', ')}`;
  return `neutral   ${who}`;
}
