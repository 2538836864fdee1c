/** Account data (table `account_data`): global (room_id '') and per-room, with a stream position each. */
import type { Database, WriteTx } from './db.ts';
import { maxStreamId } from './stream-floor.ts';

export interface AccountDataRow {
  user_id: string;
  room_id: string;
  type: string;
  content: string;
  stream_id: number;
}

export class AccountDataStore {
  constructor(private readonly db: Database) {}

  /** The stream's last position (past the restore floor: see stream-floor.ts). */
  maxStreamId(): Promise<number> {
    return maxStreamId(this.db, 'account_data');
  }

  async get(userId: string, roomId: string, type: string): Promise<string | undefined> {
    const row = await this.db.get<{ content: string }>(
      'SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ? LIMIT 1',
      [userId, roomId, type],
    );
    return row?.content;
  }

  async put(tx: WriteTx, r: AccountDataRow): Promise<void> {
    await tx.run('INSERT OR REPLACE INTO account_data (user_id, room_id, type, content, stream_id) VALUES (?, ?, ?, ?, ?)', [
      r.user_id,
      r.room_id,
      r.type,
      r.content,
      r.stream_id,
    ]);
  }

  /** The user's account data that changed in (from, to] (from null: all). */
  changed(userId: string, from: number | null, to: number): Promise<AccountDataRow[]> {
    return this.db.all<AccountDataRow>(
      'SELECT * FROM account_data WHERE user_id = ? AND stream_id > ? AND stream_id <= ? ORDER BY stream_id',
      [userId, from ?? -1, to],
    );
  }
}
