// What podpattern writes about each namespace's PatternPolicy: the podpattern.dev/policy label on
// the Namespace (`require` when the policy requires templates, which sends every pod created there
// to a webhook entry that fails closed; `present` otherwise; removed with the policy), and the
// policy's status (a Ready condition saying whether it fits the catalog, with every problem, and
// the templates it resolved with their content hashes). Each write is a merge patch that is made
// only when the value differs from what the informers show, so replicas agree without a leader
// and a resync writes nothing.
import type { Logger } from 'pino';
import { POLICY_LABEL } from '../model/keys.js';
import type { Catalog } from '../model/template.js';
import { errorText } from './informer.js';
import { judgePolicy, readPolicy } from './policy.js';
import type { PolicyObject } from './policy-watch.js';
import type { Condition } from './template-watch.js';

export interface PolicyStatus {
  observedGeneration?: number;
  conditions: Condition[];
  templates: { name: string; role: 'required' | 'forbidden' | 'narrowed'; hash: string }[];
}

export interface PolicyWriter {
  /** Sets the namespace's podpattern.dev/policy label, or removes it (null). */
  labelNamespace(namespace: string, value: string | null): Promise<void>;
  writeStatus(namespace: string, status: PolicyStatus): Promise<void>;
}

export interface PolicyControllerDeps {
  writer: PolicyWriter;
  catalog: () => Catalog;
  /** The namespace's labels as the informer has them (undefined: not known). */
  labels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  logger: Logger;
  now?: () => Date;
}

/** The label a namespace gets for its policy object (undefined: none). */
export function policyLabelFor(object: PolicyObject | undefined): string | null {
  if (object === undefined) return null;
  const read = readPolicy(object);
  // A policy that cannot be read keeps pods refused (fail closed): it counts as requiring.
  return !read.ok || read.policy.require.length > 0 ? 'require' : 'present';
}

/** The status of a policy against `catalog`. */
export function policyStatus(object: PolicyObject, catalog: Catalog, now: Date, previous?: Condition): PolicyStatus {
  const judged = judgePolicy(object, catalog);
  const templates: PolicyStatus['templates'] = [];
  const spec = readPolicy(object);
  if (spec.ok) {
    const add = (name: string, role: PolicyStatus['templates'][number]['role']): void =>
      void templates.push({ name, role, hash: catalog.get(name)?.hash ?? '' });
    for (const { template } of spec.policy.require) add(template, 'required');
    for (const template of spec.policy.forbid) add(template, 'forbidden');
    for (const template of Object.keys(spec.policy.narrow)) add(template, 'narrowed');
  }
  const status = judged.ok ? 'True' : 'False';
  const message = judged.ok ? 'the policy fits the catalog' : judged.problems.slice(0, 20).join('; ');
  const time = previous?.status === status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z');
  const condition: Condition = { type: 'Ready', status, reason: judged.ok ? 'Resolved' : 'Invalid', message, lastTransitionTime: time };
  return {
    ...(object.metadata?.generation === undefined ? {} : { observedGeneration: object.metadata.generation }),
    conditions: [condition],
    templates,
  };
}

export class PolicyController {
  constructor(private readonly deps: PolicyControllerDeps) {}

  /** A namespace's policy was added, changed (object) or deleted (undefined). */
  observe(namespace: string, object: PolicyObject | undefined): void {
    void this.reconcile(namespace, object).catch((error: unknown) =>
      this.deps.logger.warn(
        { namespace, err: errorText(error) },
        'cannot write the PatternPolicy status or the namespace label; retried at the next change or resync',
      ),
    );
  }

  private async reconcile(namespace: string, object: PolicyObject | undefined): Promise<void> {
    const label = policyLabelFor(object);
    const current = this.deps.labels(namespace)?.[POLICY_LABEL] ?? null;
    if (current !== label) await this.deps.writer.labelNamespace(namespace, label);
    if (object === undefined) return;
    const stored = (object as { status?: PolicyStatus }).status;
    const status = policyStatus(object, this.deps.catalog(), this.deps.now?.() ?? new Date(), stored?.conditions?.[0]);
    if (JSON.stringify(stored ?? null) !== JSON.stringify(status)) await this.deps.writer.writeStatus(namespace, status);
  }
}
