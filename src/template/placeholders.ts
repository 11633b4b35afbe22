// The placeholder syntax of templates: $(params.NAME), $(pod.name), $(pod.namespace), spelled
// here once. Anything else of the form $(…) is left alone: Kubernetes itself expands $(VAR) in
// command, args and env values from the container's environment.

/** A parameter's name: lower-case words joined by dashes, so it never contains a dot. */
const NAME = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
const BODY = `(params\\.${NAME}|pod\\.name|pod\\.namespace)`;

/** Matches one of our placeholders; the group is `params.NAME` or `pod.FIELD`. */
export const PLACEHOLDER = new RegExp(`\\$\\(${BODY}\\)`, 'g');
/** A string that is exactly one placeholder: it takes the parameter's typed value. */
export const WHOLE_PLACEHOLDER = new RegExp(`^\\$\\(${BODY}\\)$`);
/** The text of a `$(params.NAME)` placeholder, for patterns that look for one inside other text. */
export const PARAMETER_PLACEHOLDER_SOURCE = `\\$\\(params\\.${NAME}\\)`;
/** Text that starts like ours but is not: a typo an operator wants to hear about. */
const LOOKS_LIKE_OURS = /\$\((params|pod)\.[^)]*\)?/g;

/**
 * What a placeholder refers to: a parameter's name, or `pod.name` / `pod.namespace` (a
 * parameter's name has no dot, so the three never meet).
 */
export type Ref = string;
export const POD_NAME = 'pod.name';
export const POD_NAMESPACE = 'pod.namespace';

function refOf(match: string): Ref {
  return match.startsWith('params.') ? match.slice('params.'.length) : match;
}

/** Lists the placeholders in a string (as `params.NAME` or `pod.FIELD`), and the malformed ones separately. */
export function scanPlaceholders(text: string): { refs: string[]; malformed: string[] } {
  const refs = [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
  const malformed = [...text.matchAll(LOOKS_LIKE_OURS)].map((m) => m[0]).filter((candidate) => !WHOLE_PLACEHOLDER.test(candidate));
  return { refs, malformed };
}

/** A string split at its placeholders: `texts` has one more item than `refs`, around them. */
export function splitPlaceholders(text: string): { texts: string[]; refs: Ref[] } {
  const texts: string[] = [];
  const refs: Ref[] = [];
  let from = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    texts.push(text.slice(from, match.index));
    refs.push(refOf(match[1] as string));
    from = match.index + match[0].length;
  }
  texts.push(text.slice(from));
  return { texts, refs };
}

/** The ref of a string that is exactly one placeholder, or undefined. */
export function wholeRef(text: string): Ref | undefined {
  const whole = WHOLE_PLACEHOLDER.exec(text);
  return whole === null ? undefined : refOf(whole[1] as string);
}

/** The parameter a value is exactly the placeholder of (`$(params.NAME)` gives NAME), or undefined. */
export function wholeParameter(value: unknown): string | undefined {
  const ref = typeof value === 'string' ? wholeRef(value) : undefined;
  return ref === undefined || ref === POD_NAME || ref === POD_NAMESPACE ? undefined : ref;
}
