/**
 * Full-text search over message bodies, room names and topics (FTS5 table `event_search`,
 * contentless: rowid = events.stream_ordering, joined back to `events` for room and filters).
 */
import type { Database, SqlValue, WriteTx } from './db.ts';

export interface SearchRow {
  stream_ordering: number;
  event_id: string;
  room_id: string;
  rank: number;
}

export type SearchKey = 'content.body' | 'content.name' | 'content.topic';
const COLUMN: Record<SearchKey, string> = { 'content.body': 'body', 'content.name': 'name', 'content.topic': 'topic' };

export class SearchStore {
  constructor(private readonly db: Database) {}

  async insert(tx: WriteTx, rows: ReadonlyArray<{ stream: number; body: string | null; name: string | null; topic: string | null }>): Promise<void> {
    if (rows.length === 0) return;
    const params: SqlValue[] = [];
    for (const r of rows) params.push(r.stream, r.body, r.name, r.topic);
    await tx.run('INSERT INTO event_search (rowid, body, name, topic) VALUES ' + rows.map(() => '(?, ?, ?, ?)').join(', '), params);
  }

  async indexedUpTo(): Promise<number> {
    const row = await this.db.get<{ pos: number }>('SELECT pos FROM search_position WHERE id = 1 LIMIT 1');
    return row?.pos ?? 0;
  }

  /**
   * Indexes the accepted timeline events in (from, to] that have a string body (m.room.message),
   * name (m.room.name) or topic (m.room.topic), and records `to` as indexed. Two statements for
   * any number of events.
   */
  async indexRange(tx: WriteTx, from: number, to: number): Promise<void> {
    await tx.run(
      `INSERT INTO event_search (rowid, body, name, topic)
         SELECT stream_ordering,
                CASE WHEN type = 'm.room.message' THEN json_extract(json, '$.content.body') END,
                CASE WHEN type = 'm.room.name' THEN json_extract(json, '$.content.name') END,
                CASE WHEN type = 'm.room.topic' THEN json_extract(json, '$.content.topic') END
           FROM events
          WHERE stream_ordering > ? AND stream_ordering <= ? AND outlier = 0 AND rejected IS NULL AND redacted_by IS NULL
            AND ((type = 'm.room.message' AND json_type(json, '$.content.body') = 'text')
              OR (type = 'm.room.name' AND json_type(json, '$.content.name') = 'text')
              OR (type = 'm.room.topic' AND json_type(json, '$.content.topic') = 'text'))`,
      [from, to],
    );
    await tx.run('UPDATE search_position SET pos = ? WHERE id = 1 AND pos < ?', [to, to]);
  }

  async delete(tx: WriteTx, stream: number): Promise<void> {
    await tx.run('DELETE FROM event_search WHERE rowid = ?', [stream]);
  }

  /**
   * Matches of `query` (already an FTS5 expression) in `roomIds`, best first (order 'rank') or
   * newest first ('recent'), skipping the first `offset`. Also returns the total count.
   */
  async search(
    query: string,
    o: { roomIds: readonly string[]; keys: readonly SearchKey[]; order: 'rank' | 'recent'; limit: number; offset: number; before?: number },
  ): Promise<{ rows: SearchRow[]; count: number }> {
    const cols = o.keys.map((k) => COLUMN[k]).join(' ');
    const match = `{${cols}} : (${query})`;
    const where = `event_search MATCH ? AND e.room_id IN (SELECT value FROM json_each(?)) AND e.redacted_by IS NULL`;
    const params: SqlValue[] = [match, JSON.stringify(o.roomIds)];
    const order = o.order === 'recent' ? 'e.stream_ordering DESC' : 'event_search.rank, e.stream_ordering DESC';
    const rows = await this.db.all<SearchRow>(
      `SELECT e.stream_ordering, e.event_id, e.room_id, event_search.rank AS rank
         FROM event_search JOIN events e ON e.stream_ordering = event_search.rowid
        WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
      [...params, o.limit, o.offset],
    );
    const count = await this.db.get<{ n: number }>(
      `SELECT count(*) AS n FROM event_search JOIN events e ON e.stream_ordering = event_search.rowid WHERE ${where}`,
      params,
    );
    return { rows, count: count?.n ?? 0 };
  }
}
