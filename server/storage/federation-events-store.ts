/**
 * Federation's queries on the rooms area's event tables (events, event_edges, current_state):
 * outliers, promoting an outlier into the timeline, graph walks for /backfill and
 * /get_missing_events. Writes happen inside the event writer's jobs (tx).
 */
import type { Database, WriteTx } from './db.ts';
import type { EventRow } from './events-store.ts';

export class FederationEventsStore {
  constructor(private readonly db: Database) {}

  async minStreamOrdering(): Promise<number> {
    const row = await this.db.get<{ m: number | null }>('SELECT min(stream_ordering) AS m FROM events');
    return Math.min(0, row?.m ?? 0);
  }

  /** Which of these events exist (any kind), with their flags. */
  async known(ids: readonly string[], tx?: WriteTx): Promise<Map<string, { outlier: boolean; rejected: boolean; hasState: boolean; roomId: string }>> {
    const out = new Map<string, { outlier: boolean; rejected: boolean; hasState: boolean; roomId: string }>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await (tx ?? this.db).all<{ event_id: string; outlier: number; rejected: string | null; state_after: number | null; room_id: string }>(
        'SELECT event_id, outlier, rejected, state_after, room_id FROM events WHERE event_id IN (SELECT value FROM json_each(?))',
        [JSON.stringify(ids.slice(i, i + 500))],
      );
      for (const r of rows) out.set(r.event_id, { outlier: r.outlier === 1, rejected: r.rejected !== null, hasState: r.state_after !== null, roomId: r.room_id });
    }
    return out;
  }

  /** True if a timeline event names `eventId` among its prev_events. */
  async isReferenced(tx: WriteTx, eventId: string): Promise<boolean> {
    const row = await tx.get<{ x: number }>('SELECT 1 AS x FROM event_edges WHERE prev_event_id = ? LIMIT 1', [eventId]);
    return row !== undefined;
  }

  /** Turns a stored outlier into a timeline (or soft-failed/rejected) event with state. */
  async promote(
    tx: WriteTx,
    eventId: string,
    f: { stream: number; stateBefore: number | null; stateAfter: number | null; outlier: boolean; rejected: string | null; unsignedJson: string | null },
  ): Promise<void> {
    await tx.run(
      'UPDATE events SET stream_ordering = ?, state_before = ?, state_after = ?, outlier = ?, rejected = ?, unsigned_json = coalesce(?, unsigned_json) WHERE event_id = ?',
      [f.stream, f.stateBefore, f.stateAfter, f.outlier ? 1 : 0, f.rejected, f.unsignedJson, eventId],
    );
  }

  async deleteCurrentKeys(tx: WriteTx, roomId: string, keys: ReadonlyArray<[string, string]>): Promise<void> {
    for (const [type, stateKey] of keys) {
      await tx.run('DELETE FROM current_state WHERE room_id = ? AND type = ? AND state_key = ?', [roomId, type, stateKey]);
    }
  }

  /** prev_events of these events (from the graph). */
  async prevEdges(ids: readonly string[]): Promise<Array<{ event_id: string; prev_event_id: string }>> {
    if (ids.length === 0) return [];
    return this.db.all('SELECT event_id, prev_event_id FROM event_edges WHERE event_id IN (SELECT value FROM json_each(?))', [JSON.stringify(ids)]);
  }

  /** Rows by ID (any kind). */
  rows(ids: readonly string[]): Promise<EventRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.all<EventRow>('SELECT * FROM events WHERE event_id IN (SELECT value FROM json_each(?))', [JSON.stringify(ids)]);
  }

  /** The oldest timeline events of a room (lowest stream ordering), for backfill's starting points. */
  oldestTimeline(roomId: string, limit: number): Promise<EventRow[]> {
    return this.db.all<EventRow>(
      'SELECT * FROM events WHERE room_id = ? AND outlier = 0 AND rejected IS NULL ORDER BY stream_ordering ASC LIMIT ?',
      [roomId, limit],
    );
  }

  /** Timeline events of the room whose prev_events are not stored as timeline events (the backward extremities). */
  async backwardExtremities(roomId: string, limit: number): Promise<string[]> {
    const rows = await this.db.all<{ prev_event_id: string }>(
      `SELECT DISTINCT ee.prev_event_id FROM events e JOIN event_edges ee ON ee.event_id = e.event_id
        LEFT JOIN events p ON p.event_id = ee.prev_event_id
        WHERE e.room_id = ? AND e.outlier = 0 AND (p.event_id IS NULL OR (p.outlier = 1 AND p.state_after IS NULL))
        ORDER BY e.depth ASC LIMIT ?`,
      [roomId, limit],
    );
    return rows.map((r) => r.prev_event_id);
  }
}
