/** Read receipts (table `receipts`): the latest receipt per room, type, user and thread. */
import type { Database, WriteTx } from './db.ts';
import { maxStreamId } from './stream-floor.ts';

export interface ReceiptRow {
  room_id: string;
  receipt_type: string;
  user_id: string;
  thread_id: string;
  event_id: string;
  event_stream: number;
  ts: number;
  stream_id: number;
}

export class ReceiptsStore {
  constructor(private readonly db: Database) {}

  /** The stream's last position (past the restore floor: see stream-floor.ts). */
  maxStreamId(): Promise<number> {
    return maxStreamId(this.db, 'receipts');
  }

  /** The existing receipt, read inside the write job. */
  get(tx: WriteTx, roomId: string, type: string, userId: string, threadId: string): Promise<ReceiptRow | undefined> {
    return tx.get<ReceiptRow>(
      'SELECT * FROM receipts WHERE room_id = ? AND receipt_type = ? AND user_id = ? AND thread_id = ? LIMIT 1',
      [roomId, type, userId, threadId],
    );
  }

  async upsert(tx: WriteTx, r: ReceiptRow): Promise<void> {
    await tx.run(
      `INSERT OR REPLACE INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, event_stream, ts, stream_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.room_id, r.receipt_type, r.user_id, r.thread_id, r.event_id, r.event_stream, r.ts, r.stream_id],
    );
  }

  /** Receipts in rooms `roomIds` that changed in (from, to] (from null: all of them). */
  changed(roomIds: readonly string[], from: number | null, to: number): Promise<ReceiptRow[]> {
    if (roomIds.length === 0) return Promise.resolve([]);
    return this.db.all<ReceiptRow>(
      `SELECT * FROM receipts WHERE stream_id > ? AND stream_id <= ? AND room_id IN (SELECT value FROM json_each(?)) ORDER BY stream_id`,
      [from ?? -1, to, JSON.stringify(roomIds)],
    );
  }
}
