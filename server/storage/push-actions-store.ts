/**
 * Which events notify which local users (`event_push_actions`), written with the event, and the
 * unread counts /sync reports (`event_push_counts`, kept by triggers). A read receipt deletes the
 * actions it covers (unthreaded: all up to its event; threaded: that thread's), so what remains
 * is unread.
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
   * Unread notification and highlight counts per room and thread ('' = main timeline) for a
   * user: the event_push_counts counters (migration 0003), which count the actions a read
   * receipt has not yet removed (see deleteUpTo).
   */
  counts(userId: string, roomIds: readonly string[]): Promise<UnreadCounts[]> {
    if (roomIds.length === 0) return Promise.resolve([]);
    return this.db.all<UnreadCounts>(
      `SELECT room_id, thread_id, notifs, highlights FROM event_push_counts
        WHERE user_id = ? AND room_id IN (SELECT value FROM json_each(?)) AND notifs > 0`,
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
