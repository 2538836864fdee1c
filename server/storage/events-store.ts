/**
 * Events (table `events`), the event graph (`event_edges`) and forward extremities. Every query
 * on those tables lives here. Rows are batched into multi-row statements on the write path.
 */
import type { Database, SqlValue, WriteTx } from './db.ts';
import { maxStreamId } from './stream-floor.ts';

export interface EventRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  depth: number;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
  json: string;
  unsigned_json: string | null;
  state_before: number | null;
  state_after: number | null;
  outlier: number;
  rejected: string | null;
  redacted_by: string | null;
  device_id: string | null;
  txn_id: string | null;
  has_relations: number;
  thread_id: string | null;
  /** Not stored: push rule results for the events_append trigger (migration 0009), JSON [[user_id, highlight], …] or null. */
  push_actions?: string | null;
}

/** The columns of events_append (migration 0009): the events row, then push_actions and extremities. */
const APPEND_COLUMNS: (keyof EventRow)[] = [
  'stream_ordering', 'event_id', 'room_id', 'depth', 'type', 'state_key', 'sender', 'origin_server_ts', 'json',
  'unsigned_json', 'state_before', 'state_after', 'outlier', 'rejected', 'redacted_by', 'device_id', 'txn_id',
  'has_relations', 'thread_id',
];
const APPEND_NAMES = [...APPEND_COLUMNS, 'push_actions', 'extremities'];
const APPEND_PLACEHOLDER = `(${APPEND_NAMES.map(() => '?').join(', ')})`;
const APPEND_PREFIX = `INSERT INTO events_append (${APPEND_NAMES.join(', ')}) VALUES `;

/** A chunk size that keeps statements under SQLite's parameter limit (32766). */
const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export type TimelineDirection = 'b' | 'f';

export class EventsStore {
  constructor(private readonly db: Database) {}

  // --- writes (inside a db.write job) -------------------------------------------------------

  /**
   * The statements that persist `rows` through the events_append view (migration 0009): one per
   * 200 rows, each also writing its rows' push actions and, for each room in `extremities`,
   * replacing that room's forward extremities (carried by the room's last row). `rest`: rooms in
   * `extremities` without a row here (use replaceExtremities).
   */
  appendStatements(
    rows: readonly EventRow[],
    extremities: ReadonlyMap<string, readonly string[]>,
  ): { statements: Array<{ sql: string; params: SqlValue[] }>; rest: string[] } {
    const lastOfRoom = new Map<string, number>();
    rows.forEach((r, i) => {
      if (extremities.has(r.room_id)) lastOfRoom.set(r.room_id, i);
    });
    const statements: Array<{ sql: string; params: SqlValue[] }> = [];
    for (let start = 0; start < rows.length; start += 200) {
      const part = rows.slice(start, start + 200);
      const params: SqlValue[] = [];
      part.forEach((r, j) => {
        for (const c of APPEND_COLUMNS) params.push((r[c] ?? null) as SqlValue);
        params.push(r.push_actions ?? null);
        params.push(lastOfRoom.get(r.room_id) === start + j ? JSON.stringify(extremities.get(r.room_id)) : null);
      });
      statements.push({ sql: APPEND_PREFIX + part.map(() => APPEND_PLACEHOLDER).join(', '), params });
    }
    return { statements, rest: [...extremities.keys()].filter((roomId) => !lastOfRoom.has(roomId)) };
  }

  /** Replaces the room's forward extremities (no result read: usable with a deferred write). */
  async replaceExtremities(tx: Pick<WriteTx, 'run'>, roomId: string, extremities: readonly string[]): Promise<void> {
    await tx.run('DELETE FROM forward_extremities WHERE room_id = ?', [roomId]);
    if (extremities.length === 0) return;
    await tx.run(
      'INSERT INTO forward_extremities (room_id, event_id) VALUES ' + extremities.map(() => '(?, ?)').join(', '),
      extremities.flatMap((e) => [roomId, e]),
    );
  }

  async insertEdges(tx: WriteTx, edges: ReadonlyArray<[eventId: string, prevId: string]>): Promise<void> {
    for (const part of chunks(edges)) {
      await tx.run(
        'INSERT OR IGNORE INTO event_edges (event_id, prev_event_id) VALUES ' + part.map(() => '(?, ?)').join(', '),
        part.flat(),
      );
    }
  }

  async markRedacted(tx: WriteTx, eventId: string, redactionId: string): Promise<void> {
    await tx.run('UPDATE events SET redacted_by = ? WHERE event_id = ? AND redacted_by IS NULL', [redactionId, eventId]);
  }

  async markHasRelations(tx: WriteTx, eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await tx.run(
      `UPDATE events SET has_relations = 1 WHERE has_relations = 0 AND event_id IN (${eventIds.map(() => '?').join(', ')})`,
      [...eventIds],
    );
  }

  // --- reads --------------------------------------------------------------------------------

  /** Rows by event ID (any order; missing IDs are absent). `tx` reads inside a write job. */
  async getByIds(ids: readonly string[], tx?: WriteTx): Promise<EventRow[]> {
    if (ids.length === 0) return [];
    const q = tx ?? this.db;
    if (ids.length === 1) return q.all<EventRow>('SELECT * FROM events WHERE event_id = ?', [ids[0]!]);
    const out: EventRow[] = [];
    for (const part of chunks(ids)) {
      out.push(...(await q.all<EventRow>('SELECT * FROM events WHERE event_id IN (SELECT value FROM json_each(?))', [JSON.stringify(part)])));
    }
    return out;
  }

  /** Rows at these stream positions. */
  byStreams(positions: readonly number[]): Promise<EventRow[]> {
    if (positions.length === 0) return Promise.resolve([]);
    return this.db.all<EventRow>('SELECT * FROM events WHERE stream_ordering IN (SELECT value FROM json_each(?))', [JSON.stringify(positions)]);
  }

  async getExtremities(roomId: string, tx?: WriteTx): Promise<string[]> {
    const rows = await (tx ?? this.db).all<{ event_id: string }>('SELECT event_id FROM forward_extremities WHERE room_id = ?', [roomId]);
    return rows.map((r) => r.event_id);
  }

  /** The stream's last position (past the restore floor: see stream-floor.ts). */
  maxStreamOrdering(): Promise<number> {
    return maxStreamId(this.db, 'events', 'stream_ordering');
  }

  /** The event a local client already sent with this transaction ID, if any. */
  async getByTxn(sender: string, deviceId: string, txnId: string): Promise<string | undefined> {
    const row = await this.db.get<{ event_id: string }>(
      'SELECT event_id FROM events WHERE sender = ? AND device_id = ? AND txn_id = ? LIMIT 1',
      [sender, deviceId, txnId],
    );
    return row?.event_id;
  }

  /**
   * Timeline rows of a room, newest first (dir 'b': stream_ordering <= from) or oldest first
   * (dir 'f': stream_ordering > from), stopping at `to` when given, at most `limit` rows.
   * Outliers and rejected events are never part of a timeline.
   */
  timeline(roomId: string, dir: TimelineDirection, from: number, limit: number, to?: number): Promise<EventRow[]> {
    if (dir === 'b') {
      return this.db.all<EventRow>(
        `SELECT * FROM events WHERE room_id = ? AND stream_ordering <= ? AND stream_ordering > ?
           AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering DESC LIMIT ?`,
        [roomId, from, to ?? -Number.MAX_SAFE_INTEGER, limit],
      );
    }
    return this.db.all<EventRow>(
      `SELECT * FROM events WHERE room_id = ? AND stream_ordering > ? AND stream_ordering <= ?
         AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering ASC LIMIT ?`,
      [roomId, from, to ?? Number.MAX_SAFE_INTEGER, limit],
    );
  }

  /**
   * The newest `limit` timeline rows of each room in (from, to] (from = null: from the start),
   * newest first per room, in one query. Used by /sync.
   */
  latestPerRoom(roomIds: readonly string[], from: number | null, to: number, limit: number): Promise<EventRow[]> {
    if (roomIds.length === 0) return Promise.resolve([]);
    // SQLite has no LATERAL join: a correlated subquery picks each room's newest rows by index.
    return this.db.all<EventRow>(
      `SELECT e.* FROM json_each(?) AS r JOIN events AS e ON e.stream_ordering IN (
         SELECT stream_ordering FROM events WHERE room_id = r.value AND stream_ordering > ? AND stream_ordering <= ?
           AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering DESC LIMIT ?)
       ORDER BY e.room_id, e.stream_ordering DESC`,
      [JSON.stringify(roomIds), from ?? -Number.MAX_SAFE_INTEGER, to, limit],
    );
  }

  /** As latestPerRoom, but only the IDs (the caller takes the rows from its cache when it can). */
  latestIdsPerRoom(roomIds: readonly string[], from: number | null, to: number, limit: number): Promise<Array<{ room_id: string; event_id: string; stream_ordering: number }>> {
    if (roomIds.length === 0) return Promise.resolve([]);
    return this.db.all(
      `SELECT e.room_id, e.event_id, e.stream_ordering FROM json_each(?) AS r JOIN events AS e ON e.stream_ordering IN (
         SELECT stream_ordering FROM events WHERE room_id = r.value AND stream_ordering > ? AND stream_ordering <= ?
           AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering DESC LIMIT ?)
       ORDER BY e.room_id, e.stream_ordering DESC`,
      [JSON.stringify(roomIds), from ?? -Number.MAX_SAFE_INTEGER, to, limit],
    );
  }

  /** Rooms (among `roomIds`) with at least one timeline event in (from, to], and their count there. */
  roomsWithEvents(roomIds: readonly string[], from: number, to: number): Promise<Array<{ room_id: string; n: number }>> {
    return this.db.all(
      `SELECT room_id, count(*) AS n FROM events WHERE stream_ordering > ? AND stream_ordering <= ?
         AND room_id IN (SELECT value FROM json_each(?)) AND outlier = 0 GROUP BY room_id`,
      [from, to, JSON.stringify(roomIds)],
    );
  }

  /** Membership events about `userId` in (from, to], oldest first. */
  membershipChanges(userId: string, from: number, to: number): Promise<EventRow[]> {
    return this.db.all<EventRow>(
      `SELECT * FROM events WHERE type = 'm.room.member' AND state_key = ? AND stream_ordering > ? AND stream_ordering <= ?
         AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering ASC`,
      [userId, from, to],
    );
  }

  /** The user's membership event in a room at stream position `pos` (the last one at or before it). */
  membershipAt(userId: string, roomId: string, pos: number): Promise<EventRow | undefined> {
    return this.db.get<EventRow>(
      `SELECT * FROM events WHERE type = 'm.room.member' AND state_key = ? AND room_id = ? AND stream_ordering <= ?
         AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering DESC LIMIT 1`,
      [userId, roomId, pos],
    );
  }

  /** The newest accepted event of a room at or before `at`, (for /context, receipts, /members?at). */
  async streamOf(eventId: string): Promise<{ stream_ordering: number; room_id: string } | undefined> {
    return this.db.get('SELECT stream_ordering, room_id FROM events WHERE event_id = ? LIMIT 1', [eventId]);
  }

  /** Timeline row of a room closest before or at stream position `pos` (for /members?at=token). */
  lastBefore(roomId: string, pos: number): Promise<EventRow | undefined> {
    return this.db.get<EventRow>(
      'SELECT * FROM events WHERE room_id = ? AND stream_ordering <= ? AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering DESC LIMIT 1',
      [roomId, pos],
    );
  }

  /** The room's newest event closest to timestamp `ts` in direction `dir` (/timestamp_to_event). */
  closestToTs(roomId: string, ts: number, dir: TimelineDirection): Promise<EventRow | undefined> {
    return dir === 'f'
      ? this.db.get<EventRow>(
          'SELECT * FROM events WHERE room_id = ? AND origin_server_ts >= ? AND outlier = 0 AND rejected IS NULL ORDER BY origin_server_ts ASC, stream_ordering ASC LIMIT 1',
          [roomId, ts],
        )
      : this.db.get<EventRow>(
          'SELECT * FROM events WHERE room_id = ? AND origin_server_ts <= ? AND outlier = 0 AND rejected IS NULL ORDER BY origin_server_ts DESC, stream_ordering DESC LIMIT 1',
          [roomId, ts],
        );
  }
}
