// An informer the test drives: it emits add, update, delete, error and connect when told, and
// applies a list the way client-node's informer does (adds, updates and deletes against its
// cache, then the listed callbacks). start() resolves at once unless the test holds it.
import type { InformerLike } from '../../src/catalog/informer.js';

type Named = { metadata?: { name?: string } };
type Handler = (value: never) => void;

export class FakeInformer<T extends Named> implements InformerLike<T> {
  readonly cache = new Map<string, T>();
  starts = 0;
  stops = 0;
  /** When set, start() rejects with it once (a failed first list), then clears it. */
  failNextStart: Error | undefined;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly listed: Array<() => void> = [];

  on(event: string, callback: Handler): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), callback]);
  }

  onListed(callback: () => void): void {
    this.listed.push(callback);
  }

  async start(): Promise<void> {
    this.starts += 1;
    const failure = this.failNextStart;
    this.failNextStart = undefined;
    if (failure !== undefined) throw failure;
  }

  async stop(): Promise<void> {
    this.stops += 1;
  }

  get(name: string): T | undefined {
    return this.cache.get(name);
  }

  add(object: T): void {
    this.cache.set(nameOf(object), object);
    this.emit('add', object);
  }

  update(object: T): void {
    this.cache.set(nameOf(object), object);
    this.emit('update', object);
  }

  delete(object: T): void {
    this.cache.delete(nameOf(object));
    this.emit('delete', object);
  }

  error(error: unknown): void {
    this.emit('error', error);
  }

  connect(): void {
    this.emit('connect', undefined);
  }

  /** A list result applied: objects new to the cache are added, known ones updated, missing ones deleted. */
  list(objects: T[]): void {
    const names = new Set(objects.map(nameOf));
    for (const [name, old] of [...this.cache]) if (!names.has(name)) this.delete(old);
    for (const object of objects) {
      if (this.cache.has(nameOf(object))) this.update(object);
      else this.add(object);
    }
    for (const callback of this.listed) callback();
  }

  private emit(event: string, value: unknown): void {
    for (const handler of this.handlers.get(event) ?? []) handler(value as never);
  }
}

function nameOf(object: Named): string {
  const name = object.metadata?.name;
  if (name === undefined) throw new Error('a fake informer object needs metadata.name');
  return name;
}
