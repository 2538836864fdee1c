/**
 * Which events notify which local users (`event_push_actions`), written with the event, and the
 * unread counts /sync reports: notifications after the user's latest read receipt.
 */
import type { Database, SqlValue, WriteTx } from './db.ts';

export interface PushActionRow {
  user_id: string;
  room_id: string;
  stream_ordering: number;
  highlight: number;
  thread_id: string;
}

export interface UnreadCounts {
  room_id: string;
  thread_id: string;
  notifs: number;
  highlights: number;
}

export class PushActionsStore {
  constructor(private readonly db: Database) {}

  async insert(tx: WriteTx, rows: readonly PushActionRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 300) {
      const part = rows.slice(i, i + 300);
      const params: SqlValue[] = [];
      for (const r of part) params.push(r.user_id, r.room_id, r.stream_ordering, r.highlight, r.thread_id);
      await tx.run(
        'INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_ordering, highlight, thread_id) VALUES ' +
          part.map(() => '(?, ?, ?, ?, ?)').join(', '),
        params,
      );
    }
  }

  /**
   * Unread notification and highlight counts per room and thread ('' = main timeline) for a user:
   * actions after the newest m.read / m.read.private receipt that covers them (an unthreaded
   * receipt covers everything; a threaded one its thread, "main" the main timeline).
   */
  counts(userId: string, roomIds: readonly string[]): Promise<UnreadCounts[]> {
    if (roomIds.length === 0) return Promise.resolve([]);
    return this.db.all<UnreadCounts>(
      `SELECT a.room_id, a.thread_id, count(*) AS notifs, sum(a.highlight) AS highlights
         FROM event_push_actions a
        WHERE a.user_id = ?1 AND a.room_id IN (SELECT value FROM json_each(?2))
          AND a.stream_ordering > coalesce((
            SELECT max(r.event_stream) FROM receipts r
             WHERE r.room_id = a.room_id AND r.user_id = ?1 AND r.receipt_type IN ('m.read', 'm.read.private')
               AND (r.thread_id = '' OR r.thread_id = CASE WHEN a.thread_id = '' THEN 'main' ELSE a.thread_id END)), -1)
        GROUP BY a.room_id, a.thread_id`,
      [userId, JSON.stringify(roomIds)],
    );
  }

  /** Forget actions a receipt made obsolete (keeps the table small). */
  async deleteUpTo(tx: WriteTx, userId: string, roomId: string, stream: number, threadId: string | null): Promise<void> {
    if (threadId === null) {
      await tx.run('DELETE FROM event_push_actions WHERE user_id = ? AND room_id = ? AND stream_ordering <= ?', [userId, roomId, stream]);
    } else {
      await tx.run('DELETE FROM event_push_actions WHERE user_id = ? AND room_id = ? AND stream_ordering <= ? AND thread_id = ?', [
        userId,
        roomId,
        stream,
        threadId === 'main' ? '' : threadId,
      ]);
    }
  }

  /** Notifications of a user (GET /notifications), newest first. */
  list(userId: string, o: { before?: number; limit: number; highlightOnly: boolean }): Promise<PushActionRow[]> {
    return this.db.all<PushActionRow>(
      `SELECT * FROM event_push_actions WHERE user_id = ? AND stream_ordering < ? ${o.highlightOnly ? 'AND highlight = 1' : ''}
        ORDER BY stream_ordering DESC LIMIT ?`,
      [userId, o.before ?? Number.MAX_SAFE_INTEGER, o.limit],
    );
  }
}
