/**
 * Repairs applied to a restored database before it goes live. A snapshot is a moment in the
 * past; the world moved on after it:
 * - One-time keys (E2EE) in the snapshot may have been handed out to other people's devices
 *   after the snapshot was taken. Handing one out again would make a second Olm session with a
 *   key its device has already thrown away (undecryptable messages). They are discarded; the
 *   devices see a one-time key count of 0 in /sync and upload fresh ones.
 * - Clients hold sync tokens from after the snapshot, with stream positions the restored
 *   database has not reached. Every AUTOINCREMENT stream (device lists, to-device, …) jumps
 *   ahead by STREAM_GAP so new positions are past any token a client holds: otherwise a
 *   to-device message (a room key) could land at a position the client already acknowledged and
 *   be deleted unseen.
 * - Clients cached device lists newer than the snapshot: every local device's entry in the
 *   device list stream is renewed, so clients (and other servers) fetch keys again.
 * - Backup runs that were in progress when the snapshot was taken never finished here.
 *
 * Each hook names the tables it needs and is skipped when they do not exist, so this list
 * works for snapshots of any schema version (older ones are migrated first).
 */
import type { WriteTx } from '../../storage/db.ts';

export interface RestoreHookContext {
  now: number;
  snapshotTime: number;
}

export interface RestoreHook {
  name: string;
  /** Tables the hook touches: it runs only when all exist. */
  tables: string[];
  run(tx: WriteTx, ctx: RestoreHookContext): Promise<void>;
}

/** How far AUTOINCREMENT streams jump: far more changes than a server makes between backups. */
export const STREAM_GAP = 1_000_000;

/** Stream positions kept as a column's largest value (rooms area, migration 0003). */
const STREAM_COLUMNS: Array<[table: string, column: string]> = [
  ['events', 'stream_ordering'],
  ['receipts', 'stream_id'],
  ['account_data', 'stream_id'],
];

export const POST_RESTORE_HOOKS: RestoreHook[] = [
  {
    name: 'close backup runs that were in progress at snapshot time',
    tables: ['backup_runs'],
    run: async (tx, ctx) => {
      await tx.run(
        "UPDATE backup_runs SET status = 'interrupted', finished_ts = ?, error = 'in progress when the restored snapshot was taken' WHERE status = 'running'",
        [ctx.snapshotTime],
      );
    },
  },
  {
    // Spec (E2EE, one-time keys): a one-time key is handed out once; claimed keys are deleted.
    name: 'discard one-time keys and fallback keys that may have been handed out after the snapshot',
    tables: ['e2e_one_time_keys', 'e2e_fallback_keys'],
    run: async (tx) => {
      await tx.run('DELETE FROM e2e_one_time_keys');
      await tx.run('DELETE FROM e2e_fallback_keys');
    },
  },
  {
    name: 'move every AUTOINCREMENT stream past positions clients may hold',
    tables: ['sqlite_sequence'],
    run: async (tx) => {
      await tx.run('UPDATE sqlite_sequence SET seq = seq + ?', [STREAM_GAP]);
    },
  },
  {
    // Streams that count from the largest position in their table (events, receipts, account
    // data) cannot be moved ahead here without writing fake rows. Their floor goes to server_meta
    // as `stream_floor:<table>` (read with MetaStore.get): a counter starting at
    // max(largest in table, floor) gives new rows positions past any token a client holds.
    name: 'record stream floors for the streams counted from their tables',
    tables: ['server_meta'],
    run: async (tx) => {
      for (const [table, column] of STREAM_COLUMNS) {
        const exists = await tx.get("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ? LIMIT 1", [table]);
        if (!exists) continue;
        const row = await tx.get<{ m: number | null }>(`SELECT max(${column}) AS m FROM ${table}`);
        await tx.run(
          'INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [`stream_floor:${table}`, String((row?.m ?? 0) + STREAM_GAP)],
        );
      }
    },
  },
  {
    name: "mark every local user's device list as changed",
    tables: ['e2e_device_list_stream', 'e2e_device_keys', 'users'],
    run: async (tx, ctx) => {
      await tx.run(
        `INSERT INTO e2e_device_list_stream (user_id, device_id, only_for, ts)
         SELECT k.user_id, k.device_id, NULL, ? FROM e2e_device_keys k JOIN users u ON u.user_id = k.user_id
         ORDER BY k.user_id, k.device_id`,
        [ctx.now],
      );
    },
  },
];

/** Runs every applicable hook in the caller's write transaction; returns the names of those that ran. */
export async function runPostRestoreHooks(tx: WriteTx, ctx: RestoreHookContext, hooks = POST_RESTORE_HOOKS): Promise<string[]> {
  const rows = await tx.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'");
  const tables = new Set(rows.map((r) => r.name));
  const ran: string[] = [];
  for (const h of hooks) {
    if (!h.tables.every((t) => tables.has(t))) continue;
    await h.run(tx, ctx);
    ran.push(h.name);
  }
  return ran;
}
