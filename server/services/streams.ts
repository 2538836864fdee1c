/**
 * Stream positions. A persisted stream (events, account data, receipts) allocates positions inside
 * a write job (the single writer makes allocation order = commit order) and publishes them with
 * `committed()` from `tx.afterCommit`, so a reader that sees position N can rely on every row <= N
 * being visible. Gaps (a rolled-back job's position) are harmless. In-memory streams (typing,
 * presence) advance immediately.
 */

export class StreamCounter {
  private allocated: number;
  private published: number;

  constructor(start: number) {
    this.allocated = start;
    this.published = start;
  }

  /** Next position; call inside the write job that writes the row. */
  allocate(): number {
    return ++this.allocated;
  }

  /** Publishes `pos` once its transaction committed. */
  committed(pos: number): void {
    if (pos > this.published) this.published = pos;
  }

  /** Highest committed position. */
  get current(): number {
    return this.published;
  }

  /** For in-memory streams: allocate and publish at once. */
  bump(): number {
    this.published = ++this.allocated;
    return this.published;
  }
}
