/**
 * Bounded concurrency with a bounded queue. Image decoding is the one thing in Hearth whose
 * memory grows with its input; on a 2 GB board a burst of uploads must queue (or be told to
 * retry) rather than decode twenty photos at once.
 */

export class QueueFullError extends Error {}

interface Waiter {
  start: () => void;
  reject: (e: Error) => void;
}

export class Limiter {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `fn` when a slot is free; rejects with QueueFullError at once when the queue is full. */
  async run<T>(fn: () => Promise<T>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueue) throw new QueueFullError('too many jobs queued');
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = { start: resolve, reject };
        this.queue.push(w);
        opts.signal?.addEventListener(
          'abort',
          () => {
            const i = this.queue.indexOf(w);
            if (i >= 0) {
              this.queue.splice(i, 1);
              reject(new Error('aborted'));
            }
          },
          { once: true },
        );
      });
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      // Hand the slot straight to the next job (running stays the same), or free it.
      if (next) next.start();
      else this.running--;
    }
  }
}
