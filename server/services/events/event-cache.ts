/**
 * Parsed events by ID, with a bounded cache (two generations, see EventCache) in front of the events table. Event JSON is parsed once
 * and shared (treat StoredEvent.pdu as immutable). Mutable facts (redacted_by, has_relations) are
 * updated in place after the write that changed them commits.
 */
import type { Pdu, JsonObject } from '../../protocol/pdu-types.ts';
import type { EventRow, EventsStore } from '../../storage/events-store.ts';
import type { WriteTx } from '../../storage/db.ts';

export interface StoredEvent {
  eventId: string;
  roomId: string;
  streamOrdering: number;
  depth: number;
  type: string;
  stateKey: string | undefined;
  sender: string;
  originServerTs: number;
  /** The PDU as signed (no event_id for v3+). Never mutate. */
  pdu: Pdu;
  /** Server-side unsigned data recorded at persist time (prev_content, replaces_state, prev_sender). */
  unsignedExtra: JsonObject | null;
  stateBefore: number | null;
  stateAfter: number | null;
  outlier: boolean;
  rejected: string | null;
  redactedBy: string | null;
  deviceId: string | null;
  txnId: string | null;
  hasRelations: boolean;
  threadId: string | null;
}

export function storedEventFromRow(r: EventRow): StoredEvent {
  return {
    eventId: r.event_id,
    roomId: r.room_id,
    streamOrdering: r.stream_ordering,
    depth: r.depth,
    type: r.type,
    stateKey: r.state_key ?? undefined,
    sender: r.sender,
    originServerTs: r.origin_server_ts,
    pdu: JSON.parse(r.json) as Pdu,
    unsignedExtra: r.unsigned_json ? (JSON.parse(r.unsigned_json) as JsonObject) : null,
    stateBefore: r.state_before,
    stateAfter: r.state_after,
    outlier: r.outlier === 1,
    rejected: r.rejected,
    redactedBy: r.redacted_by,
    deviceId: r.device_id,
    txnId: r.txn_id,
    hasRelations: r.has_relations === 1,
    threadId: r.thread_id,
  };
}

/**
 * Default bound on the JSON the cache holds, in UTF-16 code units of the stored JSON. Parsed,
 * an event takes about 2–3× its JSON in the heap, so this is ~20 MB at most. Why a size bound
 * as well as a count: events may be up to 64 KiB each, and 5,000 large ones (a bridged room's
 * formatted messages, big state events) would be ~700 MB of heap, more than the 768 MB the
 * unit gives V8 on a 2 GB board.
 */
export const EVENT_CACHE_JSON_BUDGET = 8 * 1024 * 1024;

/** The cache's estimate of an event's size: the length of its stored JSON. */
const weights = new WeakMap<StoredEvent, number>();
function weightOf(ev: StoredEvent): number {
  let w = weights.get(ev);
  if (w === undefined) weights.set(ev, (w = JSON.stringify(ev.pdu).length + (ev.unsignedExtra ? JSON.stringify(ev.unsignedExtra).length : 0)));
  return w;
}

export class EventCache {
  /**
   * Two generations instead of a strict LRU (which re-inserts on every hit): hits in `young` cost
   * one lookup; a hit in `old` promotes the entry; when `young` is full (half the count or half
   * the JSON budget) it becomes `old` and the previous `old` is dropped. Holds at most
   * `capacity` entries and `jsonBudget` of JSON (plus the one event just added).
   */
  private young = new Map<string, StoredEvent>();
  private old = new Map<string, StoredEvent>();
  private youngWeight = 0;
  private oldWeight = 0;

  constructor(
    private readonly store: EventsStore,
    private readonly capacity: number,
    private readonly jsonBudget = EVENT_CACHE_JSON_BUDGET,
  ) {}

  peek(eventId: string): StoredEvent | undefined {
    const y = this.young.get(eventId);
    if (y) return y;
    const o = this.old.get(eventId);
    if (o) {
      // Moved, not copied: each held event is counted once in the JSON budget.
      this.old.delete(eventId);
      this.oldWeight -= weightOf(o);
      this.put(o);
    }
    return o;
  }

  /** Adds an event; `jsonLength` (of its stored JSON, when the caller has it) spares re-serialising it to weigh it. */
  put(ev: StoredEvent, jsonLength?: number): void {
    if (jsonLength !== undefined && !weights.has(ev)) weights.set(ev, jsonLength);
    const prev = this.young.get(ev.eventId);
    if (prev) this.youngWeight -= weightOf(prev);
    this.young.set(ev.eventId, ev);
    this.youngWeight += weightOf(ev);
    if (this.young.size >= this.capacity / 2 || this.youngWeight >= this.jsonBudget / 2) {
      this.old = this.young;
      this.oldWeight = this.youngWeight;
      this.young = new Map();
      this.youngWeight = 0;
    }
  }

  /** Rows from a query: cached objects are reused (so their mutable fields stay current). */
  fromRows(rows: readonly EventRow[]): StoredEvent[] {
    return rows.map((r) => {
      const cached = this.peek(r.event_id);
      if (cached) return cached;
      const ev = storedEventFromRow(r);
      this.put(ev, r.json.length + (r.unsigned_json?.length ?? 0));
      return ev;
    });
  }

  /** Events by ID, from the cache or the database (in a write job, pass its tx). Missing IDs are absent. */
  async getMany(ids: Iterable<string>, tx?: WriteTx): Promise<Map<string, StoredEvent>> {
    const out = new Map<string, StoredEvent>();
    const missing: string[] = [];
    for (const id of ids) {
      if (out.has(id)) continue;
      const ev = this.peek(id);
      if (ev) out.set(id, ev);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const ev of this.fromRows(await this.store.getByIds(missing, tx))) out.set(ev.eventId, ev);
    }
    return out;
  }

  async get(id: string, tx?: WriteTx): Promise<StoredEvent | undefined> {
    return this.peek(id) ?? (await this.getMany([id], tx)).get(id);
  }

  /** Drops an entry so the next read sees the database (e.g. after a failed write). */
  forget(eventId: string): void {
    const y = this.young.get(eventId);
    if (y && this.young.delete(eventId)) this.youngWeight -= weightOf(y);
    const o = this.old.get(eventId);
    if (o && this.old.delete(eventId)) this.oldWeight -= weightOf(o);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The JSON (UTF-16 code units) of the events held. */
  get jsonSize(): number {
    return this.youngWeight + this.oldWeight;
  }
}
