// The placeholder syntax of templates: $(params.NAME), $(pod.name), $(pod.namespace).
// Anything else of the form $(…) is left alone: Kubernetes itself expands $(VAR) in command,
// args and env values from the container's environment.

/** Matches one of our placeholders; the group is `params.NAME` or `pod.FIELD`. */
export const PLACEHOLDER = /\$\((params\.[a-z0-9]([-a-z0-9]*[a-z0-9])?|pod\.name|pod\.namespace)\)/g;
/** A string that is exactly one placeholder: it takes the parameter's typed value. */
export const WHOLE_PLACEHOLDER = /^\$\((params\.[a-z0-9]([-a-z0-9]*[a-z0-9])?|pod\.name|pod\.namespace)\)$/;
/** Text that starts like ours but is not: a typo an operator wants to hear about. */
const LOOKS_LIKE_OURS = /\$\((params|pod)\.[^)]*\)?/g;

export interface PlaceholderUse {
  /** `params.NAME`, `pod.name` or `pod.namespace`. */
  ref: string;
}

/** Lists the placeholders in a string, and the malformed ones separately. */
export function scanPlaceholders(text: string): { refs: string[]; malformed: string[] } {
  const refs = [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
  const malformed = [...text.matchAll(LOOKS_LIKE_OURS)]
    .map((m) => m[0])
    .filter((candidate) => !new RegExp(`^${PLACEHOLDER.source}$`).test(candidate));
  return { refs, malformed };
}
