// Large bodies take turns; small ones never wait; a client that gives up frees its place.
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyBudget, SMALL_BODY_BYTES } from '../../src/server/body-budget.js';

const MiB = 1024 * 1024;
function exchange(length?: number): { request: IncomingMessage; response: ServerResponse & EventEmitter; close: () => void } {
  const request = Object.assign(new EventEmitter(), {
    headers: length === undefined ? {} : { 'content-length': String(length) },
    complete: false,
  }) as unknown as IncomingMessage;
  const response = new EventEmitter() as ServerResponse & EventEmitter;
  return {
    request,
    response,
    close: () => {
      request.emit('end');
      response.emit('close');
    },
  };
}

t.test('large bodies wait for room, in order; small ones go at once', async (t) => {
  const budget = new BodyBudget(4 * MiB, 60_000);
  const started: string[] = [];
  const a = exchange(3 * MiB);
  const b = exchange(3 * MiB);
  const c = exchange(2 * MiB);
  const small = exchange(SMALL_BODY_BYTES);
  budget.admit(a.request, a.response, 6 * MiB, () => started.push('a'));
  budget.admit(b.request, b.response, 6 * MiB, () => started.push('b'));
  budget.admit(c.request, c.response, 6 * MiB, () => started.push('c'));
  budget.admit(small.request, small.response, 6 * MiB, () => started.push('small'));
  t.same(started, ['a', 'small'], 'one 3 MiB body at a time; the small one does not wait behind the queue');
  t.equal(budget.queued, 2);
  a.close();
  t.same(started, ['a', 'small', 'b'], 'the next in line starts when room is freed');
  b.close();
  t.same(started, ['a', 'small', 'b', 'c']);
  c.close();
  t.equal(budget.bytesInFlight, 0);
});

t.test(
  'a body without a length holds the whole budget; one larger than it is read alone; a client that leaves frees its place',
  async (t) => {
    const budget = new BodyBudget(4 * MiB, 60_000);
    const started: string[] = [];
    const chunked = exchange();
    const waiting = exchange(1 * MiB);
    const next = exchange(1 * MiB);
    budget.admit(chunked.request, chunked.response, 6 * MiB, () => started.push('chunked'));
    budget.admit(waiting.request, waiting.response, 6 * MiB, () => started.push('waiting'));
    budget.admit(next.request, next.response, 6 * MiB, () => started.push('next'));
    t.same(started, ['chunked']);
    waiting.close(); // gave up while queued
    chunked.close();
    t.same(started, ['chunked', 'next'], 'the one that left is skipped');
    next.close();
    const huge = exchange(20 * MiB);
    budget.admit(huge.request, huge.response, 6 * MiB, () => started.push('huge'));
    t.same(started.at(-1), 'huge', 'larger than the budget: read when nothing else is');
    huge.close();
    t.equal(budget.bytesInFlight, 0);
  },
);
