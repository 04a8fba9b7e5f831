// An unbounded queue read as an async iterable: the request side of a
// bidirectional stream.

/** Messages pushed by the producer, read once with `for await`. */
export class MessageQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;

  /** Adds a message; ignored after end(). */
  push(item: T): void {
    if (this.ended) {
      return;
    }
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting({ value: item, done: false });
      return;
    }
    this.items.push(item);
  }

  /** Ends the iteration once the queued messages are read. */
  end(): void {
    this.ended = true;
    const waiting = this.waiting;
    if (waiting !== undefined && this.items.length === 0) {
      this.waiting = undefined;
      waiting({ value: undefined, done: true });
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  // An async generator, because Connect calls throw() and return() on the
  // request iterable of a stream.
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        const item = this.items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.ended) {
          return;
        }
        const next = await new Promise<IteratorResult<T>>((resolve) => {
          this.waiting = resolve;
        });
        if (next.done) {
          return;
        }
        yield next.value;
      }
    } finally {
      this.end();
      this.items.length = 0;
    }
  }
}

/** A counting semaphore: at most `permits` holders at once. */
export class Semaphore {
  private readonly waiters: (() => void)[] = [];

  constructor(private permits: number) {}

  /** Resolves when a permit is free and takes it. */
  acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Returns a permit, handing it to the longest waiter if any. */
  release(): void {
    const next = this.waiters.shift();
    if (next !== undefined) {
      next();
      return;
    }
    this.permits += 1;
  }
}
