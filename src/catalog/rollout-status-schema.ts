// The schema of a PatternTemplate's status.rollout, which the rollout controller writes
// (src/rollout/): kept beside the CRD's schema, in a file of its own.
import { MAX_RESTARTED, RESTART_RESULTS, ROLLOUT_PHASES } from '../model/rollout.js';
/** A JSON Schema object, as crd-schema.ts writes them. */
type Schema = Record<string, unknown>;

/** status.rollout: what the leader's rollout controller records (src/rollout/), so a new leader goes on from it. */
export const rolloutStatusSchema: Schema = {
  type: 'object',
  description: 'Written by the rollout controller (spec.rollout.restart: auto): where the rollout of the current spec stands.',
  properties: {
    revision: { type: 'string', description: 'The content hash of the current spec.' },
    promoted: { type: 'string', description: 'The hash of the promoted revision, served outside the canary namespaces.' },
    phase: { type: 'string', enum: [...ROLLOUT_PHASES] },
    since: { type: 'string', format: 'date-time', description: 'When the revision became current: restarts since count for it.' },
    soakSince: { type: 'string', format: 'date-time', description: "When the canary's soak began." },
    message: { type: 'string' },
    restarted: {
      type: 'array',
      maxItems: 200,
      description: `The workloads restarted (or only reported) for the template, the last ${MAX_RESTARTED} finished and every one in flight, with what became of each.`,
      items: {
        type: 'object',
        required: ['kind', 'namespace', 'name', 'hash', 'at', 'result'],
        properties: {
          kind: { type: 'string' },
          namespace: { type: 'string' },
          name: { type: 'string' },
          hash: { type: 'string', description: 'The revision it was restarted for.' },
          at: { type: 'string', format: 'date-time' },
          result: { type: 'string', enum: [...RESTART_RESULTS] },
          message: { type: 'string' },
        },
      },
    },
  },
};
