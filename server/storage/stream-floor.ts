/**
 * A stream's last position, for the stores whose rows carry a `stream_id` (events, receipts,
 * account data). After a restore the position starts past `stream_floor:<table>` (written by
 * the restore, see appliance/backups/post-restore.ts), so new rows get positions beyond any
 * /sync token a client kept from the old box.
 */
import type { Database } from './db.ts';

export type StreamTable = 'events' | 'receipts' | 'account_data';

export async function maxStreamId(db: Database, table: StreamTable, column = 'stream_id'): Promise<number> {
  const row = await db.get<{ m: number | null }>(
    `SELECT max(coalesce((SELECT max(${column}) FROM ${table}), 0),
                coalesce((SELECT CAST(value AS INTEGER) FROM server_meta WHERE key = 'stream_floor:${table}'), 0)) AS m`,
  );
  return row?.m ?? 0;
}
