/** Reports of rooms, events and users (table content_reports), for the admin to review. */
import type { Database } from './db.ts';

export interface ContentReportRow {
  report_id: number;
  reporter: string;
  room_id: string | null;
  event_id: string | null;
  target_user: string | null;
  reason: string | null;
  received_ts: number;
}

export class ContentReportsStore {
  constructor(private readonly db: Database) {}

  insert(r: { reporter: string; roomId: string | null; eventId: string | null; targetUser: string | null; reason: string | null; now: number }): Promise<void> {
    return this.db.write(async (tx) => {
      await tx.run('INSERT INTO content_reports (reporter, room_id, event_id, target_user, reason, received_ts) VALUES (?, ?, ?, ?, ?, ?)', [
        r.reporter,
        r.roomId,
        r.eventId,
        r.targetUser,
        r.reason,
        r.now,
      ]);
    });
  }

  /** Newest first. */
  list(limit = 100, beforeId: number | null = null): Promise<ContentReportRow[]> {
    return this.db.all<ContentReportRow>(
      'SELECT * FROM content_reports WHERE (? IS NULL OR report_id < ?) ORDER BY report_id DESC LIMIT ?',
      [beforeId, beforeId, limit],
    );
  }
}
