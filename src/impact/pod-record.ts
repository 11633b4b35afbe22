// What the index of injected pods keeps of one pod, taken from its metadata alone (the watch
// asks for PartialObjectMetadata): where it runs, its controller, the templates and hashes its
// podpattern.dev/status records, and the podpattern annotations it asked with. Kept small: the
// rendered files, the status text and managedFields are dropped, and the asked annotations are
// shared between the pods that carry the same ones (a workload's pods all do).
import type { V1ObjectMeta } from '#kube';
import { INJECT_KEY, PATTERN_KEYS, parseTemplateKey } from '../model/keys.js';
import { readStatus } from '../engine/status.js';

/** A pod's controller (ownerReferences): the ReplicaSet, Job, StatefulSet... that made it. */
export interface OwnerRef {
  kind: string;
  name: string;
}

export interface PodRecord {
  namespace: string;
  name: string;
  /** The pod's controller, when it has one. */
  owner: OwnerRef | undefined;
  /** Templates and content hashes from podpattern.dev/status. */
  templates: ReadonlyArray<{ name: string; hash: string }>;
  /** The podpattern annotations the pod asked with (pattern keys, inject, parameters), frozen and shared. */
  asked: Readonly<Record<string, string>>;
  /** `asked` as one string: the same for pods that asked the same (a key to group them by). */
  askedKey: string;
}

/**
 * The asked annotations of one pod, all told, past which it is not kept (counted as too large to
 * check): the API server admits 256 KiB of annotations, and 10,000 pods of that would be 2.5 GB.
 * A pod's own parameters are a few hundred bytes.
 */
export const MAX_ASKED_BYTES = 16 * 1024;
/** Templates recorded in one pod's status that are kept; a status is podpattern's, a few at most. */
const MAX_TEMPLATES = 32;
const MAX_NAME = 253;

const PATTERN_KEY_SET = new Set<string>(Object.values(PATTERN_KEYS));

/**
 * Interns asked annotations (pods that asked the same share one frozen object and one key
 * string) and the names pods repeat: namespaces, owners, templates and hashes.
 */
export class AskedTable {
  private readonly byKey = new Map<string, { asked: Readonly<Record<string, string>>; key: string; users: number }>();
  private readonly names = new Map<string, string>();

  /** One copy of a name many pods carry (dropped with the table, at the next list). */
  name(text: string): string {
    let kept = this.names.get(text);
    if (kept === undefined) {
      kept = own(text);
      this.names.set(kept, kept);
    }
    return kept;
  }

  get size(): number {
    return this.byKey.size;
  }

  take(entries: Array<[string, string]>): { asked: Readonly<Record<string, string>>; key: string } {
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const key = JSON.stringify(entries);
    let found = this.byKey.get(key);
    if (found === undefined) {
      found = { asked: Object.freeze(Object.fromEntries(entries)), key, users: 0 };
      this.byKey.set(key, found);
    }
    found.users += 1;
    return found;
  }

  release(key: string): void {
    const found = this.byKey.get(key);
    if (found === undefined) return;
    found.users -= 1;
    if (found.users <= 0) this.byKey.delete(key);
  }
}

export type RecordResult = { ok: true; record: PodRecord } | { ok: false; why: 'not-injected' | 'too-large' | 'unnamed' };

/**
 * The record of a pod from its metadata, or why it is not kept: no readable status (not
 * injected, or a status forged into something else), asked annotations over MAX_ASKED_BYTES, no
 * name. Interns into `table` only when it returns a record.
 */
export function recordOf(metadata: V1ObjectMeta | undefined, table: AskedTable): RecordResult {
  const name = metadata?.name;
  const namespace = metadata?.namespace;
  if (typeof name !== 'string' || typeof namespace !== 'string') return { ok: false, why: 'unnamed' };
  const annotations = metadata?.annotations ?? {};
  const status = readStatus(annotations);
  if (status === undefined || status === 'unreadable' || status.templates.length === 0) return { ok: false, why: 'not-injected' };
  const entries: Array<[string, string]> = [];
  let bytes = 0;
  for (const key in annotations) {
    const value = annotations[key];
    if (typeof value !== 'string' || !isAsked(key)) continue;
    bytes += key.length + value.length;
    if (bytes > MAX_ASKED_BYTES) return { ok: false, why: 'too-large' };
    entries.push([key, value]);
  }
  const { asked, key } = table.take(entries);
  const templates = status.templates
    .slice(0, MAX_TEMPLATES)
    .map((t) => ({ name: table.name(short(t.name)), hash: table.name(short(t.hash)) }));
  const owner = controllerOf(metadata?.ownerReferences);
  return {
    ok: true,
    record: {
      namespace: table.name(namespace),
      name: own(name),
      owner: owner === undefined ? undefined : { kind: table.name(owner.kind), name: table.name(owner.name) },
      templates,
      asked,
      askedKey: key,
    },
  };
}

/** The keys a pod asks with: the three pattern keys, the opt-out, and template parameters (not the files podpattern wrote). */
function isAsked(key: string): boolean {
  if (PATTERN_KEY_SET.has(key) || key === INJECT_KEY) return true;
  return parseTemplateKey(key)?.kind === 'parameter';
}

function controllerOf(references: V1ObjectMeta['ownerReferences']): OwnerRef | undefined {
  if (!Array.isArray(references)) return undefined;
  const chosen = references.find((r) => r?.controller === true) ?? references[0];
  if (typeof chosen?.kind !== 'string' || typeof chosen.name !== 'string') return undefined;
  return { kind: short(chosen.kind), name: short(chosen.name) };
}

/** A name cut to a Kubernetes name's length. */
function short(text: string): string {
  return text.length <= MAX_NAME ? text : text.slice(0, MAX_NAME);
}

/**
 * A copy of `text` that holds nothing else alive: what the index keeps must not keep the pod's
 * metadata (see keyOf in pod-index.ts for what a string made from it held).
 */
function own(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
