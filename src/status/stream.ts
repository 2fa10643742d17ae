/**
 * A queue read as an async iterator. Unlike an async generator, whose `return()` waits until a
 * pending `await` inside it settles, ending it (`return()` or `end()`) settles a pending `next()`
 * at once: an unsubscribed client lets go of everything it held immediately.
 */
export class QueueIterator<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  private done = false;
  private error: unknown;

  constructor(private readonly onEnd: () => void = () => undefined) {}

  get length(): number {
    return this.queue.length;
  }

  push(value: T): void {
    if (this.done) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting.resolve({ value, done: false });
    } else {
      this.queue.push(value);
    }
  }

  /** Ends the stream with an error, after what is already queued has been read. */
  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.onEnd();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  /** Ends the stream: what is queued is dropped and a pending `next()` settles as done. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.onEnd();
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.queue.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
