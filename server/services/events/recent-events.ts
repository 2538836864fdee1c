/**
 * The most recent committed timeline events in stream order, in memory: an incremental /sync that
 * wakes up for one new message finds what happened in (since, to] here instead of asking SQLite.
 * `coveredFrom`: every timeline event with a stream position above it is in the ring (older ones
 * fall out as new ones arrive; at start-up nothing older than the start position is known).
 */
export interface RecentEvent {
  stream: number;
  roomId: string;
  eventId: string;
}

export class RecentEvents {
  private ring: RecentEvent[] = [];
  private head = 0;
  private _coveredFrom: number;

  constructor(
    startPosition: number,
    private readonly capacity = 4096,
  ) {
    this._coveredFrom = startPosition;
  }

  get coveredFrom(): number {
    return this._coveredFrom;
  }

  /** Appends committed events (positions increasing). */
  add(events: Iterable<RecentEvent>): void {
    for (const e of events) {
      if (e.stream <= this._coveredFrom) continue; // backfill / outliers are not news
      this.ring.push(e);
    }
    const live = this.ring.length - this.head;
    if (live > this.capacity) {
      const drop = live - this.capacity;
      this._coveredFrom = this.ring[this.head + drop - 1]!.stream;
      this.head += drop;
      if (this.head > this.capacity) {
        this.ring = this.ring.slice(this.head);
        this.head = 0;
      }
    }
  }

  /**
   * Newest-first events of `rooms` in (from, to], at most `limit` per room; undefined when the
   * ring does not cover `from` (the caller asks the database).
   */
  perRoom(rooms: ReadonlySet<string>, from: number, to: number, limit: number): Map<string, string[]> | undefined {
    if (from < this._coveredFrom) return undefined;
    const out = new Map<string, string[]>();
    for (let i = this.ring.length - 1; i >= this.head; i--) {
      const e = this.ring[i]!;
      if (e.stream <= from) break;
      if (e.stream > to || !rooms.has(e.roomId)) continue;
      let list = out.get(e.roomId);
      if (!list) out.set(e.roomId, (list = []));
      if (list.length < limit) list.push(e.eventId);
    }
    return out;
  }
}
