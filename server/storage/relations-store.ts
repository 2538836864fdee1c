/** Event relations (table `relations`): m.relates_to of accepted events, for /relations, /threads and aggregations. */
import type { Database, SqlValue, WriteTx } from './db.ts';

export interface RelationRow {
  event_id: string;
  relates_to: string;
  rel_type: string;
  room_id: string;
  sender: string;
  type: string;
  aggregation_key: string | null;
  stream_ordering: number;
}

export interface ThreadSummaryRow {
  relates_to: string;
  count: number;
  latest: string;
}

export class RelationsStore {
  constructor(private readonly db: Database) {}

  async insert(tx: WriteTx, rows: readonly RelationRow[]): Promise<void> {
    if (rows.length === 0) return;
    const params: SqlValue[] = [];
    for (const r of rows) params.push(r.event_id, r.relates_to, r.rel_type, r.room_id, r.sender, r.type, r.aggregation_key, r.stream_ordering);
    await tx.run(
      'INSERT OR IGNORE INTO relations (event_id, relates_to, rel_type, room_id, sender, type, aggregation_key, stream_ordering) VALUES ' +
        rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', '),
      params,
    );
  }

  /** A redacted event no longer relates to anything ("Redactions" in the relations module). */
  async delete(tx: WriteTx, eventId: string): Promise<void> {
    await tx.run('DELETE FROM relations WHERE event_id = ?', [eventId]);
  }

  /** Children of `eventId`, newest first (dir b) or oldest first (dir f), paginated by stream position. */
  children(
    eventId: string,
    o: { relType?: string; eventType?: string; dir: 'b' | 'f'; from?: number; limit: number },
  ): Promise<RelationRow[]> {
    const where = ['relates_to = ?'];
    const params: SqlValue[] = [eventId];
    if (o.relType) {
      where.push('rel_type = ?');
      params.push(o.relType);
    }
    if (o.eventType) {
      where.push('type = ?');
      params.push(o.eventType);
    }
    if (o.from !== undefined) {
      where.push(o.dir === 'b' ? 'stream_ordering <= ?' : 'stream_ordering > ?');
      params.push(o.from);
    }
    params.push(o.limit);
    return this.db.all<RelationRow>(
      `SELECT * FROM relations WHERE ${where.join(' AND ')} ORDER BY stream_ordering ${o.dir === 'b' ? 'DESC' : 'ASC'} LIMIT ?`,
      params,
    );
  }

  /** All relations pointing at any of `ids` (for aggregations), oldest first. */
  forTargets(ids: readonly string[]): Promise<RelationRow[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.all<RelationRow>(
      'SELECT * FROM relations WHERE relates_to IN (SELECT value FROM json_each(?)) ORDER BY stream_ordering ASC',
      [JSON.stringify(ids)],
    );
  }

  /** Whether `userId` sent a reply in each of the given threads. */
  async participated(rootIds: readonly string[], userId: string): Promise<Set<string>> {
    const rows = await this.db.all<{ relates_to: string }>(
      `SELECT DISTINCT relates_to FROM relations WHERE rel_type = 'm.thread' AND sender = ?
         AND relates_to IN (SELECT value FROM json_each(?))`,
      [userId, JSON.stringify(rootIds)],
    );
    return new Set(rows.map((r) => r.relates_to));
  }

  /**
   * Thread roots of a room ordered by their latest reply, newest first (/threads). `before`: only
   * threads whose latest reply is older than this stream position. `participant`: only threads the
   * user started or replied in.
   */
  threads(roomId: string, o: { before?: number; limit: number; participant?: string }): Promise<Array<{ relates_to: string; latest: number }>> {
    // ?1 is the room ID; each later bare "?" takes the next number (SQLite numbering rules).
    const participant = o.participant
      ? `AND (relates_to IN (SELECT relates_to FROM relations WHERE room_id = ?1 AND rel_type = 'm.thread' AND sender = ?)
           OR relates_to IN (SELECT event_id FROM events WHERE room_id = ?1 AND sender = ?))`
      : '';
    const having = o.before !== undefined ? 'HAVING max(stream_ordering) < ?' : '';
    const params: SqlValue[] = [roomId];
    if (o.participant) params.push(o.participant, o.participant);
    if (o.before !== undefined) params.push(o.before);
    params.push(o.limit);
    return this.db.all(
      `SELECT relates_to, max(stream_ordering) AS latest FROM relations
        WHERE room_id = ?1 AND rel_type = 'm.thread' ${participant}
        GROUP BY relates_to ${having} ORDER BY latest DESC LIMIT ?`,
      params,
    );
  }
}
