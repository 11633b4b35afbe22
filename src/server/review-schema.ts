// How /mutate's answer is written: a JSON Schema of OutgoingReview, which Fastify compiles with
// fast-json-stringify (its own serializer for routes that declare a response schema).
//
// Why: the answer is mostly the base64 patch (5 KB for a typical pod), and JSON.stringify scans
// every character of it for ones to escape: ~8 µs of a review in a loop on this project's
// benchmark machine, about twice that in the server. Base64's alphabet (A-Z, a-z, 0-9, +, /
// and = for padding; RFC 4648, section 4) holds no character JSON escapes, so the patch is
// declared fast-json-stringify's `unsafe` string format and written as it is; every other
// string (the uid, messages, warnings) is escaped as usual.
//
// A field the schema does not list is left out of the answer, so each `satisfies` below fails
// to compile when a field is added to the type without its schema; test/server/app.test.ts
// holds every kind of answer to JSON.stringify's bytes (fields are written in the schema's
// order, which is the order respond.ts builds them in).
import type { AdmissionResponse, OutgoingReview, Status } from '../admission/types.js';

type Cause = NonNullable<NonNullable<Status['details']>['causes']>[number];

const text = { type: 'string' } as const;

const cause = {
  type: 'object',
  properties: { reason: text, message: text, field: text } satisfies Record<keyof Cause, object>,
} as const;

const status = {
  type: 'object',
  properties: {
    code: { type: 'integer' },
    reason: text,
    message: text,
    details: { type: 'object', properties: { causes: { type: 'array', items: cause } } },
  } satisfies Record<keyof Status, object>,
} as const;

const response = {
  type: 'object',
  properties: {
    uid: text,
    allowed: { type: 'boolean' },
    status,
    patchType: text,
    patch: { type: 'string', format: 'unsafe' },
    warnings: { type: 'array', items: text },
  } satisfies Record<keyof AdmissionResponse, object>,
} as const;

export const OUTGOING_REVIEW_SCHEMA = {
  type: 'object',
  properties: { apiVersion: text, kind: text, response } satisfies Record<keyof OutgoingReview, object>,
} as const;
