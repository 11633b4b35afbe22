// How a template's fields take placeholder values: which keep a parameter's type, and where
// Kubernetes expands $(VAR) itself.

// Kubernetes expands $(VAR) in a container's command, args and env values, with $$ as the
// escape for a literal $ (Kubernetes docs, "Define dependent environment variables"). A
// parameter value placed there must not reach another variable, so its $ are doubled.
export type Mode = 'plain' | 'env-list' | 'expanded';

/**
 * Kubernetes fields that hold a number or a boolean (core/v1 Container, Volume and probe
 * types). A string that is exactly one placeholder keeps the parameter's type only here;
 * everywhere else (env values, args, annotations, files) Kubernetes wants a string.
 */
export const TYPED_FIELDS: ReadonlySet<string> = new Set([
  'containerPort',
  'hostPort',
  'port',
  'runAsUser',
  'runAsGroup',
  'fsGroup',
  'defaultMode',
  'mode',
  'initialDelaySeconds',
  'periodSeconds',
  'timeoutSeconds',
  'successThreshold',
  'failureThreshold',
  'terminationGracePeriodSeconds',
  'readOnly',
  'privileged',
  'runAsNonRoot',
  'readOnlyRootFilesystem',
  'allowPrivilegeEscalation',
  'stdin',
  'stdinOnce',
  'tty',
  'optional',
  'medium',
]);

/** command and args are expanded by Kubernetes; so is `value` of an item of an `env` list. */
export function childMode(mode: Mode, key: string): Mode {
  if (mode === 'expanded') return 'expanded';
  if (mode === 'env-list') return key === 'value' ? 'expanded' : 'plain';
  if (key === 'command' || key === 'args') return 'expanded';
  return key === 'env' ? 'env-list' : 'plain';
}
