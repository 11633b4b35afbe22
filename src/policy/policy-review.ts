// The review of a PatternPolicy write in the compiled policies: with no webhook, nothing else
// refuses a narrowing that does not fit the template. Each template gets a ValidatingAdmissionPolicy
// on PatternPolicy writes, podpattern-<template>-patternpolicy-review, that refuses what the
// webhook's review (catalog/policy.ts) refuses of this template's narrowing, in its words: a
// parameter the template lacks, a bound wider than the template's, bounds of the wrong kind for
// the parameter, a minimum above the maximum, an enum value the template does not allow, an
// unanchored pattern. What needs the whole catalog (a template it lacks) is not judged here; the
// template's own bounds are checked first at admission, so such a policy still widens nothing.
import type { ParameterSpec, Template } from '../model/template.js';
import { POLICY_GROUP, POLICY_PLURAL } from '../model/policy.js';
import { DEFAULT_MAX_LENGTH } from '../template/parameter-value.js';
import { list, quote, scalar } from './cel.js';
import { jsonText } from './params.js';

/** The object name of a template's PatternPolicy review and its binding. */
export function policyReviewName(template: string): string {
  return `podpattern-${template}-patternpolicy-review`;
}

/** The webhook's bound on a policy's enum list (the CRD's maxItems): enum indexes are enumerated up to it. */
const MAX_ENUM_ITEMS = 64;
/** The largest whole number a JSON number holds exactly (Number.MAX_SAFE_INTEGER). */
const SAFE = '9007199254740991.0';

const NARROWING = 'variables.narrowing';

/** A CEL list of the problems of `bounds` (a PatternPolicy's bounds on one parameter), in the order catalog/policy.ts finds them. */
function boundsProblems(at: string, parameter: ParameterSpec, bounds: string): string {
  const numeric = parameter.type === 'integer' || parameter.type === 'number';
  // Each a CEL string, "" for no problem.
  const checks: string[] = [];
  if (parameter.type === 'string')
    checks.push(
      `has(${bounds}.pattern) && !(${bounds}.pattern.startsWith("^") && ${bounds}.pattern.endsWith("$")) ? ${quote(`${at}.pattern: must be anchored with ^ and $ so it bounds the whole value`)} : ""`,
    );
  if (!numeric)
    checks.push(
      `has(${bounds}.minimum) || has(${bounds}.maximum) ? ${quote(`${at}: minimum and maximum apply only to integer and number parameters (this one is a ${parameter.type})`)} : ""`,
    );
  if (parameter.type !== 'string')
    checks.push(
      `has(${bounds}.pattern) ? ${quote(`${at}.pattern: a pattern applies only to string parameters (this one is a ${parameter.type})`)} : ""`,
    );
  if (numeric) {
    for (const bound of ['minimum', 'maximum'] as const) {
      const value = `${bounds}.${bound}`;
      const own = parameter[bound];
      const notWhole = parameter.type === 'integer' ? `!(${wholeNumber(value)})` : 'false';
      const wider = own === undefined ? 'false' : `double(${value}) ${bound === 'minimum' ? '<' : '>'} double(${scalar(own)})`;
      checks.push(
        `!has(${value}) ? "" : (${notWhole} ? ${quote(`${at}.${bound}: `)} + string(${value}) + ${quote(` is not ${parameter.type === 'integer' ? 'a whole number' : 'a number'}`)} : (${wider} ? ${quote(`${at}.${bound}: `)} + string(${value}) + ${quote(` is wider than the template's ${bound} ${own}; a policy may only narrow a template's bounds`)} : ""))`,
      );
    }
    const low = tighter(bounds, 'minimum', parameter.minimum);
    const high = tighter(bounds, 'maximum', parameter.maximum);
    const known = [low.known, high.known].filter((k) => k !== 'true');
    checks.push(
      `${[...known, `double(${low.value}) > double(${high.value})`].join(' && ')} ? ${quote(`${at}: minimum `)} + ${low.text} + " is greater than maximum " + ${high.text} + ", so no value would be allowed" : ""`,
    );
  }
  const item = `${bounds}.enum[i]`;
  const fault = valueFault(parameter, item);
  const indexes = list(Array.from({ length: MAX_ENUM_ITEMS }, (_, i) => String(i)));
  const enumProblems = `(has(${bounds}.enum) ? ${indexes}.filter(i, i < size(${bounds}.enum)).map(i, ${fault} == "" ? "" : ${quote(`${at}.enum[`)} + string(i) + "]: " + ${jsonText(item)} + " is not a value the template allows (it " + ${fault} + "); a policy may only narrow a template's bounds") : [])`;
  return `(${list(checks.map((c) => `(${c})`))} + ${enumProblems}).filter(s, s != "")`;
}

/** A CEL boolean: a JSON number (int or double) is a whole number a JSON number holds exactly. */
function wholeNumber(value: string): string {
  return `type(${value}) == int || (double(${value}) <= ${SAFE} && double(${value}) >= -${SAFE} && double(int(${value})) == double(${value}))`;
}

/** The tighter of the policy's and the template's bound: whether there is one, its value and its text, as CEL. */
function tighter(bounds: string, bound: 'minimum' | 'maximum', own: number | undefined): { known: string; value: string; text: string } {
  const value = `${bounds}.${bound}`;
  if (own === undefined) return { known: `has(${value})`, value, text: `string(${value})` };
  const beats = `has(${value}) && double(${value}) ${bound === 'minimum' ? '>' : '<'} double(${scalar(own)})`;
  return {
    known: 'true',
    value: `(${beats} ? double(${value}) : double(${scalar(own)}))`,
    text: `(${beats} ? string(${value}) : ${quote(String(own))})`,
  };
}

/**
 * A CEL string: why a value (the identifier `v`, any JSON scalar) is not one the parameter
 * allows, or "": its type, the template's enum, its numeric bounds, its length, control
 * characters and pattern, as template/parameter-value.ts says.
 */
function valueFault(parameter: ParameterSpec, v: string): string {
  const got = `", got " + ${jsonText(v)}`;
  const typeFault: Record<ParameterSpec['type'], [string, string]> = {
    string: [`type(${v}) != string`, `"must be a string" + ${got}`],
    boolean: [`type(${v}) != bool`, `"must be true or false" + ${got}`],
    integer: [`!(type(${v}) == int || (type(${v}) == double && (${wholeNumber(v)})))`, `"must be a whole number" + ${got}`],
    number: [`!(type(${v}) == int || type(${v}) == double)`, `"must be a number" + ${got}`],
  };
  const faults: [string, string][] = [typeFault[parameter.type]];
  if (parameter.enum !== undefined)
    faults.push([
      `!(${v} in ${list(parameter.enum.map((e) => scalar(e)))})`,
      quote(`must be one of ${parameter.enum.map((e) => JSON.stringify(e)).join(', ')}`),
    ]);
  if (parameter.type === 'integer' || parameter.type === 'number') {
    if (parameter.minimum !== undefined)
      faults.push([`double(${v}) < double(${scalar(parameter.minimum)})`, quote(`must be at least ${parameter.minimum}`)]);
    if (parameter.maximum !== undefined)
      faults.push([`double(${v}) > double(${scalar(parameter.maximum)})`, quote(`must be at most ${parameter.maximum}`)]);
  }
  if (parameter.type === 'string') {
    const maxLength = parameter.maxLength ?? DEFAULT_MAX_LENGTH;
    faults.push([`size(${v}) > ${maxLength}`, `${quote(`must be at most ${maxLength} characters long (got `)} + string(size(${v})) + ")"`]);
    faults.push([`${v}.matches(${quote('[\\x00-\\x1f\\x7f]')})`, quote('must not contain control characters such as newlines or tabs')]);
    // RE2 in both: the catalog compiles a template's pattern with re2js, and CEL's matches() is RE2's search, as re2js's test().
    if (parameter.pattern !== undefined)
      faults.push([`!${v}.matches(${quote(parameter.pattern)})`, quote(`must match ${parameter.pattern}`)]);
  }
  let fault = '""';
  for (const [condition, text] of [...faults].reverse()) fault = `(${condition}) ? ${text} : ${fault}`;
  return `(${fault})`;
}

/** The problems of this template's narrowing in a PatternPolicy being written, as a CEL list. */
function narrowingProblems(template: Template): string {
  const declared = Object.keys(template.spec.parameters);
  const at = `spec.narrow.${template.name}`;
  const known = declared.length === 0 ? '(none)' : declared.join(', ');
  const unknown = `${NARROWING}.filter(p, !(p in ${list(declared.map(quote))})).map(p, ${quote(`${at}.`)} + p + ${quote(`: template ${template.name} has no parameter '`)} + p + ${quote(`'; its parameters are ${known}`)})`;
  const perParameter = Object.entries(template.spec.parameters).map(
    // The bounds are an iteration variable: has() takes a field of a name, not of an index.
    ([name, parameter]) =>
      `${quote(name)} in ${NARROWING} ? [${NARROWING}[${quote(name)}]].map(b, ${boundsProblems(`${at}.${name}`, parameter, 'b')})[0] : []`,
  );
  return [unknown, ...perParameter].map((p) => `(${p})`).join(' + ');
}

/** The webhook's refusal of a policy write (admission/template-review.ts invalid), on one line. */
const REFUSAL =
  '"podpattern\'s catalog refuses PatternPolicy " + request.namespace + "/" + object.metadata.name + (variables.problems.size() == 1 ? "" : " (" + string(variables.problems.size()) + " problems)") + ": " + variables.problems.join(" - ")';

/** The ValidatingAdmissionPolicy that reviews PatternPolicy writes for this template, and its binding. */
export function policyReviewObjects(
  template: Template,
  parts: { matchResources: unknown; labels: Record<string, string>; annotations: Record<string, string> },
): Record<string, unknown>[] {
  const name = policyReviewName(template.name);
  const metadata = { name, labels: parts.labels, annotations: parts.annotations };
  const names = quote(template.name);
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [POLICY_GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [POLICY_PLURAL] }],
        },
        matchConditions: [
          { name: 'narrows-this-template', expression: `has(object.spec) && has(object.spec.narrow) && ${names} in object.spec.narrow` },
        ],
        variables: [
          { name: 'narrowing', expression: `object.spec.narrow[${names}]` },
          { name: 'problems', expression: narrowingProblems(template) },
        ],
        validations: [{ expression: 'variables.problems.size() == 0', messageExpression: REFUSAL, reason: 'Invalid' }],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata,
      spec: { policyName: name, validationActions: ['Deny'], matchResources: parts.matchResources },
    },
  ];
}
