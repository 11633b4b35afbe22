// Whether what a pod carries under a status naming this template is what the template renders
// for it, in CEL: the compiled policies' side of engine/likeness.ts. The fields that decide what
// a container runs and with which privileges (command, args, image, securityContext) and the
// text of each rendered file are compared exactly, as the webhook compares them: a copy of our
// container with its command prefixed, a capability added or a file of its own runs something
// else under our name. An image that differs only by its registry host is ours (a registry
// mirror's webhook rewrote it), and text rendered from $(pod.name) or $(pod.namespace) may be
// any text (the pod's name at injection is not the name the API server gives it).
import type { V1Container } from '#kube';
import type { Template } from '../model/template.js';
import { fileKey } from '../model/keys.js';
import { withDefaults } from '../engine/compose.js';
import { parseImage } from '../engine/likeness.js';
import { TYPED_FIELDS } from '../template/fields.js';
import { PLACEHOLDER } from '../template/placeholders.js';
import { list, quote } from './cel.js';
import { ANNS } from './params.js';
import { compileValue, hasPlaceholder, type Scope } from './values.js';

/** A field's shape: a scalar, a list of scalars, or an object of known fields. */
type Shape = 'scalar' | 'list' | { [field: string]: Shape };

/**
 * Every field of a container's securityContext (Kubernetes API reference, SecurityContext v1
 * core), so a field the template leaves unset can be required absent: CEL cannot list the
 * fields an object holds.
 */
const SECURITY_CONTEXT: Shape = {
  allowPrivilegeEscalation: 'scalar',
  appArmorProfile: { type: 'scalar', localhostProfile: 'scalar' },
  capabilities: { add: 'list', drop: 'list' },
  privileged: 'scalar',
  procMount: 'scalar',
  readOnlyRootFilesystem: 'scalar',
  runAsGroup: 'scalar',
  runAsNonRoot: 'scalar',
  runAsUser: 'scalar',
  seLinuxOptions: { user: 'scalar', role: 'scalar', type: 'scalar', level: 'scalar' },
  seccompProfile: { type: 'scalar', localhostProfile: 'scalar' },
  windowsOptions: { gmsaCredentialSpecName: 'scalar', gmsaCredentialSpec: 'scalar', runAsUserName: 'scalar', hostProcess: 'scalar' },
};

/**
 * What the API server stores for a security setting left unset: with the ProcMountType feature
 * it writes `procMount: Default` (the runtime's default masks).
 */
const STORED_DEFAULTS: Record<string, string> = { procMount: 'Default' };

/**
 * A CEL boolean: every container of the template that the pod holds, and every file the
 * template renders, is what the template renders for this pod. Absent ones are the forged
 * status check's to judge.
 */
export function renderedAsTemplate(template: Template, scope: Scope): string {
  const spec = template.spec;
  const checks = [
    ...spec.initContainers.map((c) => containerCheck(withDefaults(c, spec), false, scope)),
    ...spec.containers.map((c) => containerCheck(withDefaults(c, spec), true, scope)),
    ...Object.entries(spec.files).map(([file, text]) => {
      const key = quote(fileKey(template.name, file));
      return `(!(${key} in ${ANNS}) || ${textMatches(`${ANNS}[${key}]`, text, scope, false)})`;
    }),
  ];
  return checks.length === 0 ? 'true' : checks.join(' && ');
}

/**
 * The pod's container of this name, wherever it is, is the template's: it runs as long as
 * ours does (an app container or a native sidecar for a long-running one, a plain init
 * container for an init container), with the same command, args, image and securityContext.
 */
function containerCheck(expected: V1Container, longRunning: boolean, scope: Scope): string {
  const name = quote(expected.name);
  const inits = '(has(object.spec.initContainers) ? object.spec.initContainers : [])';
  const native = '(has(c.restartPolicy) && c.restartPolicy == "Always")';
  const same = `(object.spec.containers + ${inits}).all(c, c.name != ${name} || (${sameFields(expected, scope)}))`;
  const runs = longRunning
    ? `${inits}.all(c, c.name != ${name} || ${native})`
    : `object.spec.containers.all(c, c.name != ${name}) && ${inits}.all(c, c.name != ${name} || !${native})`;
  return `(${same} && ${runs})`;
}

/** `c`'s command, args, image and securityContext are exactly the expected container's. */
function sameFields(expected: V1Container, scope: Scope): string {
  return [
    listMatches('c', 'command', expected.command ?? [], scope),
    listMatches('c', 'args', expected.args ?? [], scope),
    `has(c.image) && ${imageMatches('c.image', expected.image ?? '', scope)}`,
    exactObject('c', 'securityContext', expected.securityContext, SECURITY_CONTEXT, scope),
  ].join(' && ');
}

/** A list of strings at `parent.field`, item by item (absent and empty are the same). */
function listMatches(parent: string, field: string, items: string[], scope: Scope): string {
  const path = `${parent}.${field}`;
  if (items.length === 0) return `(!has(${path}) || size(${path}) == 0)`;
  return `(has(${path}) && size(${path}) == ${items.length} && ${items.map((item, i) => textMatches(`${path}[${i}]`, item, scope, true)).join(' && ')})`;
}

/**
 * `actual` (a CEL string) is `text` as the webhook renders it for this pod. Around a
 * $(pod.name) or $(pod.namespace) any text matches: the rest must be there in order, the first
 * piece a prefix and the last a suffix.
 */
export function textMatches(actual: string, text: string, scope: Scope, expanded: boolean): string {
  const pieces: string[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    if (!(match[1] as string).startsWith('pod.')) continue;
    pieces.push(text.slice(last, match.index));
    last = match.index + match[0].length;
  }
  pieces.push(text.slice(last));
  const compiled = pieces.map((piece) => compileValue(piece, scope, expanded ? 'expanded' : 'plain'));
  if (compiled.length === 1) return `(${actual} == ${compiled[0]})`;
  const first = compiled[0] as string;
  const final = compiled[compiled.length - 1] as string;
  const middle = compiled.slice(1, -1).map((piece) => `${actual}.contains(${piece})`);
  return `(${[`${actual}.startsWith(${first})`, `${actual}.endsWith(${final})`, `${actual}.size() >= (${first}).size() + (${final}).size()`, ...middle].join(' && ')})`;
}

/** A registry host: a first path component with a dot or a port, or localhost. */
export const REGISTRY_HOST = '^(localhost|[^/]*[.:][^/]*)$';

/**
 * `actual` is the template's image, or the same repository path, tag and digest behind another
 * registry host (REGISTRY_HOST, as the Docker reference grammar reads one); a digest a mirror adds
 * to a tag the template left unpinned is accepted.
 */
export function imageMatches(actual: string, image: string, scope: Scope): string {
  if (hasPlaceholder(image)) return textMatches(actual, image, scope, false);
  const want = parseImage(image);
  const tag = want.tag === undefined ? '' : `:${want.tag}`;
  // Docker Hub's official images may be written with or without library/.
  const paths = [want.path, ...(/^library\/[^/]+$/.test(want.path) ? [want.path.slice('library/'.length)] : [])];
  const name = `${actual}.split("@")[0]`;
  const digest =
    want.digest === undefined
      ? `${actual}.split("@").size() <= 2`
      : `(${actual}.split("@").size() == 2 && ${actual}.split("@")[1] == ${quote(want.digest)})`;
  const hosted = paths.map((path) => {
    const suffix = `/${path}${tag}`;
    return `(${name}.endsWith(${quote(suffix)}) && ${name}.size() > ${suffix.length} && ${name}.substring(0, ${name}.size() - ${suffix.length}).matches(${quote(REGISTRY_HOST)}))`;
  });
  const bare = `${name} in ${list(paths.map((path) => quote(`${path}${tag}`)))}`;
  return `(${actual} == ${quote(image)} || (${digest} && (${[bare, ...hosted].join(' || ')})))`;
}

/**
 * The object at `parent.field` is `expected` and nothing more: every field of its shape either
 * the expected value or absent (absent and empty are the same; the API server omits empty
 * values), and every field `expected` sets present with its value.
 */
function exactObject(parent: string, field: string, expected: unknown, shape: Shape, scope: Scope): string {
  const path = `${parent}.${field}`;
  if (isEmpty(expected)) return absent(path, shape, field);
  if (shape === 'scalar' || typeof expected !== 'object' || expected === null) {
    return `(has(${path}) && ${path} == ${compileValue(expected, scope, 'plain', TYPED_FIELDS.has(field))})`;
  }
  if (shape === 'list' || Array.isArray(expected)) return `(has(${path}) && ${path} == ${compileValue(expected, scope)})`;
  const want = expected as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(shape), ...Object.keys(want)])];
  return `(has(${path}) && ${fields.map((f) => exactObject(path, f, want[f], shape[f] ?? 'scalar', scope)).join(' && ')})`;
}

/** Nothing at `path`: absent, empty, or the value the API server stores for an unset field. */
function absent(path: string, shape: Shape, field: string): string {
  if (shape === 'list') return `(!has(${path}) || size(${path}) == 0)`;
  if (shape === 'scalar')
    return STORED_DEFAULTS[field] === undefined ? `!has(${path})` : `(!has(${path}) || ${path} == ${quote(STORED_DEFAULTS[field])})`;
  return `(!has(${path}) || (${Object.entries(shape)
    .map(([f, s]) => absent(`${path}.${f}`, s, f))
    .join(' && ')}))`;
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}
