/**
 * In-memory answers to "did X change after stream position P?", so an incremental /sync skips the
 * queries of streams where nothing changed for its user (what Synapse's StreamChangeCache does).
 *
 * `StreamChangeCache` remembers the last position at which each entity (a user, a device, a
 * room…) changed. Writers call `changed()` from `tx.afterCommit` (positions are published in
 * commit order, so they arrive increasing). A question about a position older than what the cache
 * covers (before start-up, or before entries were evicted) answers "maybe": the caller then asks
 * the database as before. So the cache can only save queries, never hide a change.
 */

/** Most entities remembered; older ones are dropped and the covered range shrinks to match. */
const DEFAULT_CAPACITY = 10_000;

export class StreamChangeCache {
  /** entity → position of its last change; Map order is change order (re-inserted on change). */
  private readonly last = new Map<string, number>();
  /** Every change after this position is in `last` (or was evicted, raising it). */
  private floor: number;
  private newest: number;

  constructor(
    startPosition: number,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {
    this.floor = startPosition;
    this.newest = startPosition;
  }

  /** Records that `entity` changed at `pos` (after the change committed). */
  changed(entity: string, pos: number): void {
    // A change at or below the floor cannot make any answer wrong: questions about positions
    // below the floor answer "maybe" anyway, and for since ≥ floor ≥ pos it is not "after since".
    if (pos <= this.floor) return;
    const prev = this.last.get(entity);
    if (prev !== undefined && prev >= pos) return;
    this.last.delete(entity);
    this.last.set(entity, pos);
    if (pos > this.newest) this.newest = pos;
    if (this.last.size > this.capacity) {
      const [oldest, at] = this.last.entries().next().value!;
      this.last.delete(oldest);
      if (at > this.floor) this.floor = at;
    }
  }

  /** False only when `entity` certainly did not change after `since`. */
  hasChangedSince(entity: string, since: number): boolean {
    if (since < this.floor) return true;
    if (since >= this.newest) return false;
    const p = this.last.get(entity);
    return p !== undefined && p > since;
  }

  /** False only when no entity at all changed after `since`. */
  anyChangedSince(since: number): boolean {
    return since < this.floor || this.newest > since;
  }
}

/** A Map with a size cap that drops the least recently set or read entry. */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
